using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// An AVX-512 layout of a <see cref="CsrMatrix"/> (out × in) for the batch-1 product y = A·x, where the CSR kernel
/// spends most of its time fetching x[col] one non-zero at a time (.NET has no 512-bit gather, and 256-bit gathers
/// are slow on AMD).
/// <para>
/// Rows are grouped in slices of 16 (one output register) and columns in panels of 32 (two x registers). For each
/// (slice, panel) holding non-zeros, the panel's "levels" are the most non-zeros any of the slice's 16 rows has in
/// that panel; level k holds each row's k-th non-zero of the panel as 16 floats (zero where the row has fewer) and
/// 16 byte indices 0..31 (the column within the panel). The product per level is one vpermi2ps, which picks the 16
/// x values out of the panel's two registers, and one FMA into the slice's accumulators: no gathers, no scalar
/// loads. Slices list only their non-empty panels (panel offset + level count), so empty pairs cost nothing.
/// </para>
/// <para>
/// Memory: 80 bytes per level (64 of values, 16 of indices) against the CSR's 6 per non-zero (16-bit indices), kept
/// beside the CSR (which serves batches and non-AVX-512 paths). Padding ratio = 16·levels / non-zeros: about 2.1 for
/// LeNet-300-100's 300×784 at 8% (random positions: ~2.6 non-zeros per row and panel, ~5.5 levels per pair), so
/// ~2.3x the CSR's bytes; it grows as density falls (one non-zero per pair still costs a whole level), so
/// <see cref="Build"/> declines layouts padded past 4x unless they stay L2-sized (then the CSR kernel runs).
/// </para>
/// Padding lanes multiply x by 0, so a non-finite x would turn them into NaN where the CSR skips them: callers check
/// x first and take the CSR path when it holds inf or NaN. The layout is built from the matrix's values once
/// (<see cref="CsrMatrix"/> is treated as immutable) and cached on it.
/// </summary>
internal sealed unsafe class PanelEll
{
    public const int SliceRows = 16, PanelCols = 32;

    public int Rows { get; }
    public int Cols { get; }
    public int Slices { get; }
    public int Panels { get; }
    /// <summary>Levels over all (slice, panel) pairs; 16 floats and 16 bytes each.</summary>
    public long Levels { get; }
    /// <summary>Stored value slots per non-zero (≥ 1; 0 for an empty matrix).</summary>
    public double PaddingRatio { get; }
    /// <summary>Bytes held by the layout (values, indices and the panel lists).</summary>
    public long Bytes => Levels * (16 * sizeof(float) + 16) + 4L * (_entries.Length + _sliceEntry.Length + _sliceLevel.Length);

    // Slice s's panels are entries [_sliceEntry[s], _sliceEntry[s+1]) of _entries, each two ints (the panel's first
    // column, its level count); its levels start at level _sliceLevel[s] of the value and index streams.
    private readonly int[] _sliceEntry, _sliceLevel, _entries;
    // Pinned (never move), so the aligned pointers stay valid for the object's life.
    private readonly float[] _valueStore;
    private readonly byte[] _indexStore;
    private readonly float* _values;
    private readonly byte* _indices;

    /// <summary>
    /// Above this padding ratio the layout is only used while it stays this small (L2-resident on Zen 5's 1 MiB
    /// L2): streamed from L3 a level costs ~1.4 ns against the CSR kernel's ~0.37 ns per non-zero, so a layout
    /// padded past ~4x loses there (4096×4096 at 1%: 4.8x padded, 4.2 MiB, 72 µs against the CSR's 63; at 0.2%:
    /// 10.5x, 33 against 19), while in L2 it wins even at 6.8x (1024×1024 at 0.5%: 2.6 µs against 3.3).
    /// </summary>
    public const double MaxPaddingRatio = 4.0;
    public const long SmallBytes = 512 << 10;

    /// <summary>
    /// The layout of <paramref name="a"/>, or null where the CSR kernel is expected to be faster: padded more than
    /// <see cref="MaxPaddingRatio"/> and larger than <see cref="SmallBytes"/> (measured with
    /// <c>SharpPrune.Bench --sparse-spmv</c>).
    /// </summary>
    public static PanelEll? Build(CsrMatrix a)
    {
        var levels = CountLevels(a, out var sliceEntry, out var sliceLevel, out var entries);
        if (levels < 0) return null;
        double ratio = a.NonZeros == 0 ? 0 : 16.0 * levels / a.NonZeros;
        if (ratio > MaxPaddingRatio && levels * (16 * sizeof(float) + 16) > SmallBytes) return null;
        return new PanelEll(a, levels, ratio, sliceEntry, sliceLevel, entries);
    }

    /// <summary>Pass 1: levels of every (slice, panel) pair, walking each row's (column-sorted) non-zeros once.</summary>
    private static long CountLevels(CsrMatrix a, out int[] sliceEntry, out int[] sliceLevel, out int[] entryArray)
    {
        int rows = a.Rows, slices = (rows + SliceRows - 1) / SliceRows, panels = (a.Cols + PanelCols - 1) / PanelCols;
        var rowPtr = a.RowPtr;
        var col = a.ColIdx32 ?? a.ColIdx;
        sliceEntry = new int[slices + 1];
        sliceLevel = new int[slices + 1];
        entryArray = [];
        var entries = new List<int>();
        var cursor = new int[SliceRows];
        long levels = 0;
        for (int s = 0; s < slices; s++)
        {
            int r0 = s * SliceRows, n = Math.Min(SliceRows, rows - r0);
            for (int i = 0; i < n; i++) cursor[i] = rowPtr[r0 + i];
            for (int q = 0; q < panels; q++)
            {
                int end = (q + 1) * PanelCols, most = 0;
                for (int i = 0; i < n; i++)
                {
                    int p = cursor[i], e = rowPtr[r0 + i + 1];
                    while (p < e && col[p] < end) p++;
                    most = Math.Max(most, p - cursor[i]);
                    cursor[i] = p;
                }
                if (most == 0) continue;
                entries.Add(q * PanelCols); entries.Add(most);
                levels += most;
            }
            sliceEntry[s + 1] = entries.Count / 2;
            if (levels > int.MaxValue / 16) return -1; // more than one array can hold: the CSR kernel it is
            sliceLevel[s + 1] = (int)levels;
        }
        entryArray = entries.ToArray();
        return levels;
    }

    private PanelEll(CsrMatrix a, long levels, double ratio, int[] sliceEntry, int[] sliceLevel, int[] entries)
    {
        Rows = a.Rows; Cols = a.Cols;
        Slices = (Rows + SliceRows - 1) / SliceRows;
        Panels = (Cols + PanelCols - 1) / PanelCols;
        var rowPtr = a.RowPtr;
        var col = a.ColIdx32 ?? a.ColIdx;
        var values = a.Values;
        _sliceEntry = sliceEntry; _sliceLevel = sliceLevel; _entries = entries;
        Levels = levels;
        PaddingRatio = ratio;
        var cursor = new int[SliceRows];

        // Pass 2: the streams, 64-byte aligned (one value level is one cache line).
        _valueStore = GC.AllocateArray<float>((int)(levels * 16) + 16, pinned: true);
        _indexStore = GC.AllocateArray<byte>((int)(levels * 16) + 64, pinned: true);
        fixed (float* pv = _valueStore) _values = (float*)(((nint)pv + 63) & ~(nint)63);
        fixed (byte* pi = _indexStore) _indices = (byte*)(((nint)pi + 63) & ~(nint)63);
        for (int s = 0; s < Slices; s++)
        {
            int r0 = s * SliceRows, n = Math.Min(SliceRows, Rows - r0);
            for (int i = 0; i < n; i++) cursor[i] = rowPtr[r0 + i];
            long level = _sliceLevel[s];
            for (int e = _sliceEntry[s]; e < _sliceEntry[s + 1]; e++)
            {
                int c0 = _entries[2 * e], end = c0 + PanelCols;
                for (int i = 0; i < n; i++)
                {
                    int p = cursor[i], re = rowPtr[r0 + i + 1];
                    for (long k = level; p < re && col[p] < end; p++, k++)
                    {
                        _values[k * 16 + i] = values[p];
                        _indices[k * 16 + i] = (byte)(col[p] - c0);
                    }
                    cursor[i] = p;
                }
                level += _entries[2 * e + 1];
            }
        }
    }

    /// <summary>First slice of part <paramref name="part"/> of <paramref name="parts"/> slice ranges holding about equal levels.</summary>
    public int BalancedSliceStart(int part, int parts)
    {
        if (part <= 0) return 0;
        if (part >= parts) return Slices;
        long target = Levels * part / parts;
        int lo = 0, hi = Slices;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_sliceLevel[mid] < target) lo = mid + 1; else hi = mid;
        }
        return lo;
    }

    /// <summary>
    /// y[r] = bias[r] + Σ A[r,k]·x[k] (then max(·, 0) with <paramref name="relu"/>) for the rows of slices [s0, s1).
    /// <paramref name="x"/> holds <see cref="Panels"/>·32 finite floats (the input, zero-padded); AVX-512 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Multiply(float* x, float* y, float* bias, bool relu, int s0, int s1)
    {
        float* t = stackalloc float[SliceRows]; // the last slice's outputs when the rows are not a multiple of 16
        fixed (int* ent = _entries)
        {
            for (int s = s0; s < s1; s++)
            {
                float* v = _values + (long)_sliceLevel[s] * 16;
                byte* ix = _indices + (long)_sliceLevel[s] * 16;
                // Four accumulators: one chain would wait on the FMA latency at every level.
                Vector512<float> a0 = Vector512<float>.Zero, a1 = a0, a2 = a0, a3 = a0;
                for (int e = _sliceEntry[s], eEnd = _sliceEntry[s + 1]; e < eEnd; e++)
                {
                    float* xp = x + ent[2 * e];
                    int n = ent[2 * e + 1];
                    var lo = Vector512.Load(xp);
                    var hi = Vector512.Load(xp + 16);
                    for (; n >= 4; n -= 4, v += 64, ix += 64)
                    {
                        a0 = Avx512F.FusedMultiplyAdd(Vector512.LoadAligned(v), Pick(lo, ix, hi), a0);
                        a1 = Avx512F.FusedMultiplyAdd(Vector512.LoadAligned(v + 16), Pick(lo, ix + 16, hi), a1);
                        a2 = Avx512F.FusedMultiplyAdd(Vector512.LoadAligned(v + 32), Pick(lo, ix + 32, hi), a2);
                        a3 = Avx512F.FusedMultiplyAdd(Vector512.LoadAligned(v + 48), Pick(lo, ix + 48, hi), a3);
                    }
                    if (n >= 2)
                    {
                        a0 = Avx512F.FusedMultiplyAdd(Vector512.LoadAligned(v), Pick(lo, ix, hi), a0);
                        a1 = Avx512F.FusedMultiplyAdd(Vector512.LoadAligned(v + 16), Pick(lo, ix + 16, hi), a1);
                        v += 32; ix += 32; n -= 2;
                    }
                    if (n != 0)
                    {
                        a2 = Avx512F.FusedMultiplyAdd(Vector512.LoadAligned(v), Pick(lo, ix, hi), a2);
                        v += 16; ix += 16;
                    }
                }
                var sum = (a0 + a1) + (a2 + a3);
                int r0 = s * SliceRows, rows = Math.Min(SliceRows, Rows - r0);
                if (rows == SliceRows)
                {
                    if (bias != null) sum += Vector512.Load(bias + r0);
                    // max(0, sum) returns sum when it is NaN, like the unfused ReLU.
                    if (relu) sum = Avx512F.Max(Vector512<float>.Zero, sum);
                    sum.Store(y + r0);
                }
                else
                {
                    sum.Store(t);
                    for (int i = 0; i < rows; i++)
                    {
                        float o = t[i] + (bias == null ? 0f : bias[r0 + i]);
                        y[r0 + i] = relu ? MathF.Max(o, 0f) : o;
                    }
                }
            }
        }
    }

    /// <summary>The 16 x values a level's byte indices name within the panel (lo = columns 0-15, hi = 16-31).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pick(Vector512<float> lo, byte* ix, Vector512<float> hi) =>
        Avx512F.PermuteVar16x32x2(lo, Avx512F.ConvertToVector512Int32(Vector128.Load(ix)), hi);
}
