using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// A sparse matrix in compressed sparse row form (CSR): row r's non-zeros are <c>Values[RowPtr[r]..RowPtr[r+1])</c>
/// at columns <c>ColIdx[...]</c>, columns ascending. Plain data, no autograd. When the matrix has at most 65,536
/// columns the indices are stored only as 16-bit values (6 bytes per non-zero streamed instead of 8, and held:
/// the kernels read whichever form is stored); <see cref="ColIdx"/> then widens a copy on request.
/// </summary>
public sealed class CsrMatrix
{
    public int Rows { get; }
    public int Cols { get; }
    public int[] RowPtr { get; }
    /// <summary>Column of each non-zero. A fresh widened copy when the matrix stores 16-bit indices (≤ 65,536 columns).</summary>
    public int[] ColIdx => ColIdx32 ?? Array.ConvertAll(ColIdx16!, c => (int)c);
    public float[] Values { get; }
    /// <summary>The stored indices: exactly one of these is non-null.</summary>
    internal ushort[]? ColIdx16 { get; }
    internal int[]? ColIdx32 { get; }

    private object? _panelEll; // null until decided, then the layout or NoPanel
    private static readonly object NoPanel = new();

    /// <summary>
    /// The AVX-512 batch-1 layout of this matrix (null where the CSR kernel is faster, see <see cref="PanelEll.Build"/>),
    /// built on first use by whichever thread gets there first.
    /// </summary>
    internal PanelEll? PanelEll
    {
        get
        {
            var ell = Volatile.Read(ref _panelEll);
            if (ell == null)
            {
                ell = (object?)Kernels.PanelEll.Build(this) ?? NoPanel;
                ell = Interlocked.CompareExchange(ref _panelEll, ell, null) ?? ell;
            }
            return ell as PanelEll;
        }
    }

    public int NonZeros => RowPtr[Rows];
    public double Density => Rows == 0 || Cols == 0 ? 0 : (double)NonZeros / ((long)Rows * Cols);

    public CsrMatrix(int rows, int cols, int[] rowPtr, int[] colIdx, float[] values)
    {
        if (rowPtr.Length != rows + 1 || colIdx.Length != values.Length || rowPtr[rows] != values.Length)
            throw new ArgumentException($"CSR arrays do not describe a {rows}x{cols} matrix");
        Rows = rows; Cols = cols; RowPtr = rowPtr; Values = values;
        if (cols <= 65_536)
        {
            ColIdx16 = new ushort[colIdx.Length];
            for (int i = 0; i < colIdx.Length; i++) ColIdx16[i] = (ushort)colIdx[i];
        }
        else ColIdx32 = colIdx;
    }

    /// <summary>The non-zeros of a row-major <paramref name="rows"/>×<paramref name="cols"/> matrix (exact zeros dropped, -0 included).</summary>
    public static CsrMatrix FromDense(ReadOnlySpan<float> dense, int rows, int cols)
    {
        if (dense.Length != (long)rows * cols) throw new ArgumentException($"{dense.Length} values for a {rows}x{cols} matrix");
        var rowPtr = new int[rows + 1];
        int nnz = 0;
        foreach (var v in dense) if (v != 0f) nnz++;
        var col = new int[nnz]; var val = new float[nnz];
        int k = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = dense.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++) if (row[c] != 0f) { col[k] = c; val[k] = row[c]; k++; }
            rowPtr[r + 1] = k;
        }
        return new CsrMatrix(rows, cols, rowPtr, col, val);
    }

    /// <summary>First row of part <paramref name="part"/> of <paramref name="parts"/> row ranges holding about equal non-zeros.</summary>
    internal int BalancedRowStart(int part, int parts)
    {
        if (part <= 0) return 0;
        if (part >= parts) return Rows;
        long target = (long)NonZeros * part / parts;
        int lo = 0, hi = Rows;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (RowPtr[mid] < target) lo = mid + 1; else hi = mid;
        }
        return lo;
    }
}

/// <summary>
/// Sparse × dense products for pruned inference. Each output is a sum over its row's non-zeros only, in column
/// order, so results differ from the dense GEMM only by summation order (about 1e-6 relative).
/// <para>
/// Two kernels. <see cref="Spmm"/> (C = A·B, B dense with many columns) walks B in tiles of 64 columns and keeps a
/// row's 64 outputs in registers while the row's non-zeros stream: each non-zero is one broadcast and four 16-wide
/// FMAs against a contiguous piece of a B row (AVX-512; eight 8-wide with AVX2, sixteen 4-wide portable), one store
/// per row and tile; the tile loop is outermost so the B tile stays in L2 across all rows. Narrower tails use
/// 32/16/8/4/1-wide blocks. The matrix × vector product (a Linear at batch 1) runs on AVX-512 through the
/// <see cref="PanelEll"/> layout (permutes from registers instead of gathers), else one dot product per row over
/// 16-bit column indices, with AVX2 gathers from the (L1-resident) vector.
/// </para>
/// Threads split the rows into ranges of about equal non-zeros (<see cref="Parallelism"/>).
/// </summary>
public static unsafe class SparseKernels
{
    /// <summary>Columns of B per tile: four AVX-512 registers of outputs per row.</summary>
    internal const int ColumnTile = 64;

    /// <summary>Below this many multiply-adds a product runs on one thread (a fork costs ~5-10 µs).</summary>
    private const long SerialWork = 32_768;

    private static int Parts(CsrMatrix a, long columns) =>
        (long)a.NonZeros * columns < SerialWork ? 1 : Math.Min(Parallelism.AvailableThreads, Math.Max(1, a.Rows));

    /// <summary>
    /// C[r, 0..n) = Σ A[r,k] · B[k, 0..n) (+ bias[r]) for the CSR <paramref name="a"/> and row-major B (row stride
    /// <paramref name="ldb"/>), C row-major with stride <paramref name="ldc"/>. C is overwritten.
    /// </summary>
    public static void Spmm(CsrMatrix a, ReadOnlySpan<float> b, int ldb, int n, Span<float> c, int ldc, ReadOnlySpan<float> bias = default)
    {
        if (n <= 0 || a.Rows == 0) return;
        if (a.Cols > 0 && b.Length < (long)(a.Cols - 1) * ldb + n) throw new ArgumentException("B too small for the sparse matrix's columns", nameof(b));
        if (c.Length < (long)(a.Rows - 1) * ldc + n) throw new ArgumentException("C too small", nameof(c));
        if (!bias.IsEmpty && bias.Length < a.Rows) throw new ArgumentException("bias shorter than the rows", nameof(bias));
        fixed (float* pb = b) fixed (float* pc = c) fixed (float* pbias = bias)
        {
            nint bp = (nint)pb, cp = (nint)pc, biasp = bias.IsEmpty ? 0 : (nint)pbias;
            int parts = Parts(a, n);
            Parallelism.ForRanges(parts, parts, (p, _, _) =>
                SpmmRows(a, (float*)bp, ldb, n, (float*)cp, ldc, (float*)biasp, a.BalancedRowStart(p, parts), a.BalancedRowStart(p + 1, parts)));
        }
    }

    /// <summary>
    /// Rows [r0, r1) of C = A·B (+ bias), the whole width n, on the calling thread. B's 64-column tile t starts at
    /// <c>b + t·tileStride</c>: <see cref="ColumnTile"/> for a row-major B, K·64 for B packed tile by tile (each tile
    /// then contiguous, ldb = 64, so it occupies no more cache than it uses).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void SpmmRows(CsrMatrix a, float* b, nint ldb, int n, float* c, nint ldc, float* bias, int r0, int r1, nint tileStride = ColumnTile)
    {
        fixed (int* rowPtr = a.RowPtr) fixed (float* vals = a.Values)
        {
            if (a.ColIdx16 is { } idx16) fixed (ushort* col = idx16) SpmmRows(rowPtr, col, vals, b, ldb, n, c, ldc, bias, r0, r1, tileStride);
            else fixed (int* col = a.ColIdx32) SpmmRows(rowPtr, col, vals, b, ldb, n, c, ldc, bias, r0, r1, tileStride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SpmmRows<TIdx>(int* rowPtr, TIdx* col, float* vals, float* b, nint ldb, int n, float* c, nint ldc, float* bias, int r0, int r1,
        nint tileStride) where TIdx : unmanaged
    {
        var isa = KernelIsa.Active;
        for (int j0 = 0, t = 0; j0 < n; j0 += ColumnTile, t++)
        {
            int w = Math.Min(ColumnTile, n - j0);
            float* bt = b + t * tileStride;
            if (isa >= CpuIsa.Avx512) Tile512(rowPtr, col, vals, bt, ldb, w, c + j0, ldc, bias, r0, r1);
            else if (isa >= CpuIsa.Avx2) Tile256(rowPtr, col, vals, bt, ldb, w, c + j0, ldc, bias, r0, r1);
            else Tile128(rowPtr, col, vals, bt, ldb, w, c + j0, ldc, bias, r0, r1);
        }
    }

    // The tile kernels: for each row, the tile's w ≤ 64 columns in blocks whose accumulators live in registers for
    // the whole row. Each block keeps at least four independent FMA chains (two or four non-zeros in flight), or a
    // row would wait on the FMA latency for every non-zero. Separate methods per ISA so each is compiled with only the
    // instructions its path may use.

    /// <summary>Column index p as a native int; the type test folds away in each compiled instantiation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static nint Ix<TIdx>(TIdx* col, int p) where TIdx : unmanaged =>
        typeof(TIdx) == typeof(ushort) ? ((ushort*)col)[p] : ((int*)col)[p];

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile512<TIdx>(int* rowPtr, TIdx* col, float* val, float* b, nint ldb, int w, float* c, nint ldc, float* bias, int r0, int r1) where TIdx : unmanaged
    {
        for (int r = r0; r < r1; r++)
        {
            int p0 = rowPtr[r], p1 = rowPtr[r + 1];
            float init = bias == null ? 0f : bias[r];
            float* cr = c + r * ldc;
            int j = 0;
            if (w - j >= 64)
            {
                Vector512<float> a0 = Vector512.Create(init), a1 = a0, a2 = a0, a3 = a0;
                Vector512<float> e0 = Vector512<float>.Zero, e1 = e0, e2 = e0, e3 = e0;
                int p = p0;
                for (; p + 1 < p1; p += 2)
                {
                    var v = Vector512.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb;
                    a0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br), a0);
                    a1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 16), a1);
                    a2 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 32), a2);
                    a3 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 48), a3);
                    var u = Vector512.Create(val[p + 1]);
                    float* bq = b + Ix(col, p + 1) * ldb;
                    e0 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(bq), e0);
                    e1 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(bq + 16), e1);
                    e2 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(bq + 32), e2);
                    e3 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(bq + 48), e3);
                }
                if (p < p1)
                {
                    var v = Vector512.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb;
                    a0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br), a0);
                    a1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 16), a1);
                    a2 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 32), a2);
                    a3 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 48), a3);
                }
                (a0 + e0).Store(cr); (a1 + e1).Store(cr + 16); (a2 + e2).Store(cr + 32); (a3 + e3).Store(cr + 48);
                j = 64;
            }
            if (w - j >= 32)
            {
                Vector512<float> a0 = Vector512.Create(init), a1 = a0, e0 = Vector512<float>.Zero, e1 = e0;
                int p = p0;
                for (; p + 1 < p1; p += 2)
                {
                    var v = Vector512.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb + j;
                    a0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br), a0);
                    a1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 16), a1);
                    var u = Vector512.Create(val[p + 1]);
                    float* bq = b + Ix(col, p + 1) * ldb + j;
                    e0 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(bq), e0);
                    e1 = Avx512F.FusedMultiplyAdd(u, Vector512.Load(bq + 16), e1);
                }
                if (p < p1)
                {
                    var v = Vector512.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb + j;
                    a0 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br), a0);
                    a1 = Avx512F.FusedMultiplyAdd(v, Vector512.Load(br + 16), a1);
                }
                (a0 + e0).Store(cr + j); (a1 + e1).Store(cr + j + 16);
                j += 32;
            }
            if (w - j >= 16)
            {
                Vector512<float> a0 = Vector512.Create(init), a1 = Vector512<float>.Zero, a2 = a1, a3 = a1;
                float* bj = b + j;
                int p = p0;
                for (; p + 3 < p1; p += 4)
                {
                    a0 = Avx512F.FusedMultiplyAdd(Vector512.Create(val[p]), Vector512.Load(bj + Ix(col, p) * ldb), a0);
                    a1 = Avx512F.FusedMultiplyAdd(Vector512.Create(val[p + 1]), Vector512.Load(bj + Ix(col, p + 1) * ldb), a1);
                    a2 = Avx512F.FusedMultiplyAdd(Vector512.Create(val[p + 2]), Vector512.Load(bj + Ix(col, p + 2) * ldb), a2);
                    a3 = Avx512F.FusedMultiplyAdd(Vector512.Create(val[p + 3]), Vector512.Load(bj + Ix(col, p + 3) * ldb), a3);
                }
                for (; p < p1; p++) a0 = Avx512F.FusedMultiplyAdd(Vector512.Create(val[p]), Vector512.Load(bj + Ix(col, p) * ldb), a0);
                ((a0 + a1) + (a2 + a3)).Store(cr + j);
                j += 16;
            }
            if (w - j >= 8) { Block8(col, val, p0, p1, b + j, ldb, init, cr + j); j += 8; }
            if (w - j >= 4) { Block4(col, val, p0, p1, b + j, ldb, init, cr + j, fma: true); j += 4; }
            for (; j < w; j++) cr[j] = Dot1(col, val, p0, p1, b + j, ldb, init);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile256<TIdx>(int* rowPtr, TIdx* col, float* val, float* b, nint ldb, int w, float* c, nint ldc, float* bias, int r0, int r1) where TIdx : unmanaged
    {
        for (int r = r0; r < r1; r++)
        {
            int p0 = rowPtr[r], p1 = rowPtr[r + 1];
            float init = bias == null ? 0f : bias[r];
            float* cr = c + r * ldc;
            int j = 0;
            for (; w - j >= 32; j += 32)
            {
                Vector256<float> a0 = Vector256.Create(init), a1 = a0, a2 = a0, a3 = a0;
                Vector256<float> e0 = Vector256<float>.Zero, e1 = e0, e2 = e0, e3 = e0;
                int p = p0;
                for (; p + 1 < p1; p += 2)
                {
                    var v = Vector256.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb + j;
                    a0 = Fma.MultiplyAdd(v, Vector256.Load(br), a0);
                    a1 = Fma.MultiplyAdd(v, Vector256.Load(br + 8), a1);
                    a2 = Fma.MultiplyAdd(v, Vector256.Load(br + 16), a2);
                    a3 = Fma.MultiplyAdd(v, Vector256.Load(br + 24), a3);
                    var u = Vector256.Create(val[p + 1]);
                    float* bq = b + Ix(col, p + 1) * ldb + j;
                    e0 = Fma.MultiplyAdd(u, Vector256.Load(bq), e0);
                    e1 = Fma.MultiplyAdd(u, Vector256.Load(bq + 8), e1);
                    e2 = Fma.MultiplyAdd(u, Vector256.Load(bq + 16), e2);
                    e3 = Fma.MultiplyAdd(u, Vector256.Load(bq + 24), e3);
                }
                if (p < p1)
                {
                    var v = Vector256.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb + j;
                    a0 = Fma.MultiplyAdd(v, Vector256.Load(br), a0);
                    a1 = Fma.MultiplyAdd(v, Vector256.Load(br + 8), a1);
                    a2 = Fma.MultiplyAdd(v, Vector256.Load(br + 16), a2);
                    a3 = Fma.MultiplyAdd(v, Vector256.Load(br + 24), a3);
                }
                (a0 + e0).Store(cr + j); (a1 + e1).Store(cr + j + 8); (a2 + e2).Store(cr + j + 16); (a3 + e3).Store(cr + j + 24);
            }
            if (w - j >= 16)
            {
                Vector256<float> a0 = Vector256.Create(init), a1 = a0, e0 = Vector256<float>.Zero, e1 = e0;
                int p = p0;
                for (; p + 1 < p1; p += 2)
                {
                    var v = Vector256.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb + j;
                    a0 = Fma.MultiplyAdd(v, Vector256.Load(br), a0);
                    a1 = Fma.MultiplyAdd(v, Vector256.Load(br + 8), a1);
                    var u = Vector256.Create(val[p + 1]);
                    float* bq = b + Ix(col, p + 1) * ldb + j;
                    e0 = Fma.MultiplyAdd(u, Vector256.Load(bq), e0);
                    e1 = Fma.MultiplyAdd(u, Vector256.Load(bq + 8), e1);
                }
                if (p < p1)
                {
                    var v = Vector256.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb + j;
                    a0 = Fma.MultiplyAdd(v, Vector256.Load(br), a0);
                    a1 = Fma.MultiplyAdd(v, Vector256.Load(br + 8), a1);
                }
                (a0 + e0).Store(cr + j); (a1 + e1).Store(cr + j + 8);
                j += 16;
            }
            if (w - j >= 8) { Block8(col, val, p0, p1, b + j, ldb, init, cr + j); j += 8; }
            if (w - j >= 4) { Block4(col, val, p0, p1, b + j, ldb, init, cr + j, fma: true); j += 4; }
            for (; j < w; j++) cr[j] = Dot1(col, val, p0, p1, b + j, ldb, init);
        }
    }

    /// <summary>The portable tile: 4-wide Vector128 multiply-adds (no FMA intrinsics), four registers per block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile128<TIdx>(int* rowPtr, TIdx* col, float* val, float* b, nint ldb, int w, float* c, nint ldc, float* bias, int r0, int r1) where TIdx : unmanaged
    {
        for (int r = r0; r < r1; r++)
        {
            int p0 = rowPtr[r], p1 = rowPtr[r + 1];
            float init = bias == null ? 0f : bias[r];
            float* cr = c + r * ldc;
            int j = 0;
            for (; w - j >= 16; j += 16)
            {
                Vector128<float> a0 = Vector128.Create(init), a1 = a0, a2 = a0, a3 = a0;
                for (int p = p0; p < p1; p++)
                {
                    var v = Vector128.Create(val[p]);
                    float* br = b + Ix(col, p) * ldb + j;
                    a0 += v * Vector128.Load(br);
                    a1 += v * Vector128.Load(br + 4);
                    a2 += v * Vector128.Load(br + 8);
                    a3 += v * Vector128.Load(br + 12);
                }
                a0.Store(cr + j); a1.Store(cr + j + 4); a2.Store(cr + j + 8); a3.Store(cr + j + 12);
            }
            for (; w - j >= 4; j += 4) Block4(col, val, p0, p1, b + j, ldb, init, cr + j, fma: false);
            for (; j < w; j++) cr[j] = Dot1(col, val, p0, p1, b + j, ldb, init);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block8<TIdx>(TIdx* col, float* val, int p0, int p1, float* b, nint ldb, float init, float* c) where TIdx : unmanaged
    {
        Vector256<float> a0 = Vector256.Create(init), a1 = Vector256<float>.Zero, a2 = a1, a3 = a1;
        int p = p0;
        for (; p + 3 < p1; p += 4)
        {
            a0 = Fma.MultiplyAdd(Vector256.Create(val[p]), Vector256.Load(b + Ix(col, p) * ldb), a0);
            a1 = Fma.MultiplyAdd(Vector256.Create(val[p + 1]), Vector256.Load(b + Ix(col, p + 1) * ldb), a1);
            a2 = Fma.MultiplyAdd(Vector256.Create(val[p + 2]), Vector256.Load(b + Ix(col, p + 2) * ldb), a2);
            a3 = Fma.MultiplyAdd(Vector256.Create(val[p + 3]), Vector256.Load(b + Ix(col, p + 3) * ldb), a3);
        }
        for (; p < p1; p++) a0 = Fma.MultiplyAdd(Vector256.Create(val[p]), Vector256.Load(b + Ix(col, p) * ldb), a0);
        ((a0 + a1) + (a2 + a3)).Store(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Block4<TIdx>(TIdx* col, float* val, int p0, int p1, float* b, nint ldb, float init, float* c, bool fma) where TIdx : unmanaged
    {
        Vector128<float> a0 = Vector128.Create(init), a1 = Vector128<float>.Zero, a2 = a1, a3 = a1;
        int p = p0;
        if (fma)
            for (; p + 3 < p1; p += 4)
            {
                a0 = Fma.MultiplyAdd(Vector128.Create(val[p]), Vector128.Load(b + Ix(col, p) * ldb), a0);
                a1 = Fma.MultiplyAdd(Vector128.Create(val[p + 1]), Vector128.Load(b + Ix(col, p + 1) * ldb), a1);
                a2 = Fma.MultiplyAdd(Vector128.Create(val[p + 2]), Vector128.Load(b + Ix(col, p + 2) * ldb), a2);
                a3 = Fma.MultiplyAdd(Vector128.Create(val[p + 3]), Vector128.Load(b + Ix(col, p + 3) * ldb), a3);
            }
        else
            for (; p + 3 < p1; p += 4)
            {
                a0 += Vector128.Create(val[p]) * Vector128.Load(b + Ix(col, p) * ldb);
                a1 += Vector128.Create(val[p + 1]) * Vector128.Load(b + Ix(col, p + 1) * ldb);
                a2 += Vector128.Create(val[p + 2]) * Vector128.Load(b + Ix(col, p + 2) * ldb);
                a3 += Vector128.Create(val[p + 3]) * Vector128.Load(b + Ix(col, p + 3) * ldb);
            }
        for (; p < p1; p++) a0 += Vector128.Create(val[p]) * Vector128.Load(b + Ix(col, p) * ldb);
        ((a0 + a1) + (a2 + a3)).Store(c);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot1<TIdx>(TIdx* col, float* val, int p0, int p1, float* b, nint ldb, float init) where TIdx : unmanaged
    {
        float s0 = init, s1 = 0f, s2 = 0f, s3 = 0f;
        int p = p0;
        for (; p + 3 < p1; p += 4)
        {
            s0 += val[p] * b[Ix(col, p) * ldb];
            s1 += val[p + 1] * b[Ix(col, p + 1) * ldb];
            s2 += val[p + 2] * b[Ix(col, p + 2) * ldb];
            s3 += val[p + 3] * b[Ix(col, p + 3) * ldb];
        }
        for (; p < p1; p++) s0 += val[p] * b[Ix(col, p) * ldb];
        return (s0 + s1) + (s2 + s3);
    }

    /// <summary>
    /// y = x·Aᵀ (+ bias), then max(y, 0) with <paramref name="relu"/>, for <paramref name="rows"/> input rows x
    /// (row-major, <c>A.Cols</c> wide) and the CSR A (out × in): a Linear layer with a sparse weight [and its ReLU].
    /// One row: a sparse matrix × vector product, through the <see cref="Kernels.PanelEll"/> layout on AVX-512 (when x is
    /// finite), else one CSR dot product per row. More rows: xᵀ (in × rows) is formed once, C = A·xᵀ runs through the
    /// tiled <see cref="Spmm"/> kernel so each non-zero scales contiguous rows of xᵀ, and C is transposed back into y.
    /// </summary>
    public static void LinearForward(CsrMatrix a, ReadOnlySpan<float> x, int rows, Span<float> y, ReadOnlySpan<float> bias = default, bool relu = false)
    {
        int inF = a.Cols, outF = a.Rows;
        if (x.Length < (long)rows * inF || y.Length < (long)rows * outF) throw new ArgumentException("x or y too small for the sparse linear");
        if (!bias.IsEmpty && bias.Length < outF) throw new ArgumentException("bias shorter than the output features", nameof(bias));
        if (rows <= 0 || outF == 0) return;
        fixed (float* px = x) fixed (float* py = y) fixed (float* pbias = bias)
        {
            nint xp = (nint)px, yp = (nint)py, bp = bias.IsEmpty ? 0 : (nint)pbias;
            if (rows == 1)
            {
                if (KernelIsa.UseAvx512 && SpmvPanels(a, px, py, bias.IsEmpty ? null : pbias, relu)) return;
                int parts = Parts(a, 1);
                Parallelism.ForRanges(parts, parts, (p, _, _) =>
                    SpmvRows(a, (float*)xp, (float*)yp, (float*)bp, relu, a.BalancedRowStart(p, parts), a.BalancedRowStart(p + 1, parts)));
                return;
            }
            // xᵀ packed tile by tile: tile t holds samples [64t, 64t+64) as an inF × 64 block (ldb 64).
            int tiles = (rows + ColumnTile - 1) / ColumnTile;
            var xt = ScratchPool.Rent((long)inF * ColumnTile * tiles + AlignPad);
            var yt = ScratchPool.Rent((long)outF * rows + AlignPad);
            try
            {
                fixed (float* pxt = xt) fixed (float* pyt = yt)
                {
                    nint xtp = (nint)Align64(pxt), ytp = (nint)Align64(pyt);
                    int parts = Parts(a, rows);
                    Parallelism.ForRanges(parts, parts, (p, _, _) =>
                    {
                        int i0 = (int)((long)inF * p / parts), i1 = (int)((long)inF * (p + 1) / parts);
                        for (int t = 0; t < tiles; t++)
                        {
                            int j0 = t * ColumnTile, w = Math.Min(ColumnTile, rows - j0);
                            Transpose((float*)xp + (long)j0 * inF + i0, w, i1 - i0, inF, (float*)xtp + ((long)t * inF + i0) * ColumnTile, ColumnTile);
                        }
                    });
                    Parallelism.ForRanges(parts, parts, (p, _, _) =>
                    {
                        int r0 = a.BalancedRowStart(p, parts), r1 = a.BalancedRowStart(p + 1, parts);
                        SpmmRows(a, (float*)xtp, ColumnTile, rows, (float*)ytp, rows, (float*)bp, r0, r1, (nint)inF * ColumnTile);
                        if (relu)
                        {
                            var part = new Span<float>((float*)ytp + (long)r0 * rows, (r1 - r0) * rows);
                            System.Numerics.Tensors.TensorPrimitives.Max(part, 0f, part);
                        }
                        Transpose((float*)ytp + (long)r0 * rows, r1 - r0, rows, rows, (float*)yp + r0, outF);
                    });
                }
            }
            finally { ScratchPool.Return(xt); ScratchPool.Return(yt); }
        }
    }

    /// <summary>
    /// Below this many stored value slots (16 per level) the panel product runs on one thread. One thread streams
    /// ~1,600 levels per µs from L2 (LeNet-300-100's fc1, 2,600 levels: 1.6 µs) and ~750 from L3; a fork/join of
    /// Parallelism.For costs ~5-10 µs on a quiet machine and 10-40 µs on a loaded one (`SharpPrune.Bench --sparse-spmv`:
    /// LeNet's fc1 1.5 µs on one thread, 10-40 split in two), more than all of LeNet's layers take. So only products
    /// of ≳ 20 µs of one thread's work split: 32,768 levels.
    /// </summary>
    internal static long PanelSerialSlots = DefaultPanelSerialSlots;
    internal const long DefaultPanelSerialSlots = 16L << 15;

    /// <summary>
    /// y = A·x (+ bias) [ReLU] through the matrix's <see cref="Kernels.PanelEll"/> layout: x is copied into a
    /// zero-padded buffer (whole panels) and checked on the way; false (nothing written) when it holds inf or NaN.
    /// </summary>
    private static bool SpmvPanels(CsrMatrix a, float* x, float* y, float* bias, bool relu)
    {
        if (a.PanelEll is not { } ell) return false;
        int cols = a.Cols, padded = ell.Panels * PanelEll.PanelCols;
        float[]? rented = null;
        Span<float> buffer = padded <= 8192 ? stackalloc float[padded + AlignPad] : (rented = ScratchPool.Rent(padded + AlignPad));
        try
        {
            fixed (float* pbuf = buffer)
            {
                float* xs = Align64(pbuf);
                if (!CopyFinite(x, cols, xs)) return false;
                for (int i = cols; i < padded; i++) xs[i] = 0f;
                int parts = ell.Levels * 16 < PanelSerialSlots ? 1 : Math.Min(Parallelism.AvailableThreads, Math.Max(1, ell.Slices));
                if (parts == 1) ell.Multiply(xs, y, bias, relu, 0, ell.Slices);
                else
                {
                    nint xsp = (nint)xs, yp = (nint)y, bp = (nint)bias;
                    Parallelism.ForRanges(parts, parts, (p, _, _) =>
                        ell.Multiply((float*)xsp, (float*)yp, (float*)bp, relu, ell.BalancedSliceStart(p, parts), ell.BalancedSliceStart(p + 1, parts)));
                }
                return true;
            }
        }
        finally { if (rented != null) ScratchPool.Return(rented); }
    }

    /// <summary>dst[0..n) = src[0..n); false when some value is inf or NaN (all exponent bits set).</summary>
    private static bool CopyFinite(float* src, int n, float* dst)
    {
        var exponent = Vector512.Create(0x7F800000);
        var bad = Vector512<int>.Zero;
        int i = 0;
        for (; i + 16 <= n; i += 16)
        {
            var v = Vector512.Load(src + i);
            v.Store(dst + i);
            bad |= Vector512.Equals(v.AsInt32() & exponent, exponent);
        }
        bool finite = bad == Vector512<int>.Zero;
        for (; i < n; i++) { dst[i] = src[i]; finite &= float.IsFinite(src[i]); }
        return finite;
    }

    /// <summary>y[r] = bias[r] + Σ A[r,k]·x[k] (then max(·, 0) with relu) for rows [r0, r1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SpmvRows(CsrMatrix a, float* x, float* y, float* bias, bool relu, int r0, int r1)
    {
        var isa = KernelIsa.Active;
        fixed (int* rowPtr = a.RowPtr) fixed (float* vals = a.Values)
        {
            if (a.ColIdx16 is { } idx16)
                fixed (ushort* col = idx16)
                    for (int r = r0; r < r1; r++)
                    {
                        float o = (bias == null ? 0f : bias[r]) + Dot16(isa, vals, col, rowPtr[r], rowPtr[r + 1], x);
                        y[r] = relu ? MathF.Max(o, 0f) : o;
                    }
            else
                fixed (int* col = a.ColIdx32)
                    for (int r = r0; r < r1; r++)
                    {
                        float s0 = 0f, s1 = 0f;
                        int p = rowPtr[r], e = rowPtr[r + 1];
                        for (; p + 1 < e; p += 2) { s0 += vals[p] * x[col[p]]; s1 += vals[p + 1] * x[col[p + 1]]; }
                        if (p < e) s0 += vals[p] * x[col[p]];
                        float o = (bias == null ? 0f : bias[r]) + (s0 + s1);
                        y[r] = relu ? MathF.Max(o, 0f) : o;
                    }
        }
    }

    /// <summary>Whether the matrix × vector product gathers 8 values at a time (.NET has no 512-bit gather).</summary>
    internal static bool UseGather = true;

    /// <summary>Σ vals[p] · x[col[p]] over [p, end) with 16-bit column indices.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot16(CpuIsa isa, float* vals, ushort* col, int p, int end, float* x)
    {
        float sum = 0f;
        if (isa >= CpuIsa.Avx2 && UseGather && end - p >= 8)
        {
            var acc0 = Vector256<float>.Zero;
            var acc1 = Vector256<float>.Zero;
            for (; p + 16 <= end; p += 16)
            {
                var i0 = Avx2.ConvertToVector256Int32(Vector128.Load(col + p));
                var i1 = Avx2.ConvertToVector256Int32(Vector128.Load(col + p + 8));
                acc0 = Fma.MultiplyAdd(Vector256.Load(vals + p), Avx2.GatherVector256(x, i0, 4), acc0);
                acc1 = Fma.MultiplyAdd(Vector256.Load(vals + p + 8), Avx2.GatherVector256(x, i1, 4), acc1);
            }
            if (p + 8 <= end)
            {
                var i0 = Avx2.ConvertToVector256Int32(Vector128.Load(col + p));
                acc0 = Fma.MultiplyAdd(Vector256.Load(vals + p), Avx2.GatherVector256(x, i0, 4), acc0);
                p += 8;
            }
            sum = Vector256.Sum(acc0 + acc1);
        }
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (; p + 3 < end; p += 4)
        {
            s0 += vals[p] * x[col[p]];
            s1 += vals[p + 1] * x[col[p + 1]];
            s2 += vals[p + 2] * x[col[p + 2]];
            s3 += vals[p + 3] * x[col[p + 3]];
        }
        for (; p < end; p++) s0 += vals[p] * x[col[p]];
        return sum + ((s0 + s1) + (s2 + s3));
    }

    /// <summary>Extra floats to rent so that a buffer can start on a 64-byte boundary (<see cref="Align64"/>).</summary>
    internal const int AlignPad = 16;

    /// <summary>
    /// The first 64-byte boundary at or after p. B tiles whose rows start on cache-line boundaries run about twice as
    /// fast as misaligned ones (measured: 22 vs 10 GMAC/s on one AVX-512 core), since every 64-byte load of a
    /// misaligned row touches two lines.
    /// </summary>
    internal static float* Align64(float* p) => (float*)(((nint)p + 63) & ~(nint)63);

    /// <summary>
    /// dst[j, i] = src[i, j] for i &lt; rows, j &lt; cols (row strides lds, ldd): 8×8 blocks transposed in AVX
    /// registers (eight loads, 24 shuffles, eight stores) where AVX2 is on, scalar 16×16 tiles for the edges and the
    /// portable path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Transpose(float* src, int rows, int cols, nint lds, float* dst, nint ldd)
    {
        int i8 = 0, j8 = 0;
        if (KernelIsa.UseAvx2)
        {
            i8 = rows & ~7; j8 = cols & ~7;
            for (int i = 0; i < i8; i += 8)
                for (int j = 0; j < j8; j += 8)
                    Transpose8x8(src + i * lds + j, lds, dst + j * ldd + i, ldd);
            TransposeScalar(src + j8, i8, cols - j8, lds, dst + j8 * ldd, ldd);    // right edge of the 8-row bands
        }
        TransposeScalar(src + i8 * lds, rows - i8, cols, lds, dst + i8, ldd);      // bottom rows
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* s, nint lds, float* d, nint ldd)
    {
        var r0 = Avx.LoadVector256(s); var r1 = Avx.LoadVector256(s + lds);
        var r2 = Avx.LoadVector256(s + 2 * lds); var r3 = Avx.LoadVector256(s + 3 * lds);
        var r4 = Avx.LoadVector256(s + 4 * lds); var r5 = Avx.LoadVector256(s + 5 * lds);
        var r6 = Avx.LoadVector256(s + 6 * lds); var r7 = Avx.LoadVector256(s + 7 * lds);
        Gemm.Transpose8x8(r0, r1, r2, r3, r4, r5, r6, r7, out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
        Avx.Store(d, o0); Avx.Store(d + ldd, o1); Avx.Store(d + 2 * ldd, o2); Avx.Store(d + 3 * ldd, o3);
        Avx.Store(d + 4 * ldd, o4); Avx.Store(d + 5 * ldd, o5); Avx.Store(d + 6 * ldd, o6); Avx.Store(d + 7 * ldd, o7);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void TransposeScalar(float* src, int rows, int cols, nint lds, float* dst, nint ldd)
    {
        const int T = 16;
        for (int i0 = 0; i0 < rows; i0 += T)
        {
            int i1 = Math.Min(rows, i0 + T);
            for (int j0 = 0; j0 < cols; j0 += T)
            {
                int j1 = Math.Min(cols, j0 + T);
                for (int j = j0; j < j1; j++)
                {
                    float* d = dst + j * ldd;
                    float* s = src + j;
                    for (int i = i0; i < i1; i++) d[i] = s[i * lds];
                }
            }
        }
    }

    /// <summary>dst (cols × rows) = srcᵀ for a row-major rows × cols src.</summary>
    internal static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        if (src.Length < (long)rows * cols || dst.Length < (long)rows * cols) throw new ArgumentException("transpose buffers too small");
        fixed (float* s = src) fixed (float* d = dst) Transpose(s, rows, cols, cols, d, rows);
    }
}
