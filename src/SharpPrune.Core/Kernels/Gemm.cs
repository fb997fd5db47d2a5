using System.Runtime.CompilerServices;
using System.Numerics.Tensors;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// Row-major single-precision GEMM: C[m×n] = alpha·op(A)·op(B) + beta·C.
/// Large problems use the BLIS scheme (pack A into MR-row panels and B into NR-column panels, KC/MC/NC cache
/// blocking, 6×16 AVX2/FMA register-blocked micro-kernel); skinny/tiny problems use unpacked direct kernels.
/// </summary>
public static unsafe partial class Gemm
{
    internal const int MR = 6, NR = 16;

    // Cache blocking (Zen3/Skylake-ish: 32 KB L1d, 512 KB+ L2, big shared L3). The bench may tune them per thread
    // (KernelSwitches).
    private const int DefaultKC = 256; // A micro-panel 6×256 (6 KB) + B micro-panel 256×16 (16 KB) stay in L1
    private const int DefaultMC = 72;  // packed A block 72×256 (74 KB) stays in L2 (measured: 144 was ~8% slower single-threaded at n = 1024)
    private const int DefaultNC = 3072; // packed B block 256×3072 (3 MB) stays in L3 and is reused by every row block
    internal static int KC { get => KernelSwitches.Current.KC ?? DefaultKC; set => KernelSwitches.Current.KC = value; }
    internal static int MC { get => KernelSwitches.Current.MC ?? DefaultMC; set => KernelSwitches.Current.MC = value; }
    internal static int NC { get => KernelSwitches.Current.NC ?? DefaultNC; set => KernelSwitches.Current.NC = value; }
    internal static int NCSingle = 384; // single row block: B block 256×384 (384 KB) consumed from L2 right after packing

    /// <summary>Below this many multiply-adds (m·n·k) the GEMM stays single-threaded (fork/join costs ~10 µs).</summary>
    internal static long ParallelThreshold = 96L * 96 * 96;

    /// <summary>
    /// Whether the unpacked direct kernels beat packing (measured on Zen3): the row-axpy kernel (!transB) wins
    /// for few rows, few columns, short k or anything up to ~64³; the dot kernel (transB) only for few rows /
    /// columns or tiny products. transA &amp;&amp; transB always packs.
    /// </summary>
    internal static bool PreferSmall(bool transA, bool transB, int m, int n, int k)
    {
        long work = (long)m * n * k;
        if (!transB) return m <= 8 || n <= 12 || k <= 32 || work <= 64L * 64 * 64;
        if (!transA) return m <= 4 || n <= 12 || work <= 24L * 24 * 24;
        return false;
    }

    /// <summary>Test hook, per thread (<see cref="KernelSwitches"/>): null = automatic, true/false = force the direct / packed kernels.</summary>
    internal static bool? ForceSmall { get => KernelSwitches.Current.GemmSmall; set => KernelSwitches.Current.GemmSmall = value; }

    /// <summary>Test hook, per thread (<see cref="KernelSwitches"/>): force the portable (non-FMA) code paths.</summary>
    internal static bool ForcePortable { get => KernelIsa.Active == CpuIsa.Portable; set => MaxIsa = value ? CpuIsa.Portable : null; }

    /// <summary>Test/bench hook, per thread (<see cref="KernelSwitches"/>): cap the vector ISA (null = the process default).</summary>
    internal static CpuIsa? MaxIsa { get => KernelSwitches.Current.MaxIsa; set => KernelSwitches.Current.MaxIsa = value; }

    internal static bool UseFma => KernelIsa.UseAvx2;

    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
        => Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Parallelism.AvailableThreads);

    /// <summary>As above with an explicit thread cap (1 = run on the calling thread only).</summary>
    public static void Sgemm(bool transA, bool transB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc, int maxThreads)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (m == 0 || n == 0) return;
        CheckOperand(c.Length, m, n, ldc, nameof(c));
        if (k > 0)
        {
            CheckOperand(a.Length, transA ? k : m, transA ? m : k, lda, nameof(a));
            CheckOperand(b.Length, transB ? n : k, transB ? k : n, ldb, nameof(b));
        }
        fixed (float* pa = a) fixed (float* pb = b) fixed (float* pc = c)
            SgemmCore(transA, transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, maxThreads);
    }

    private static void CheckOperand(int length, int rows, int cols, int ld, string name)
    {
        if (ld < Math.Max(1, cols)) throw new ArgumentException($"Leading dimension {ld} < {cols} columns.", name);
        if ((long)(rows - 1) * ld + cols > length)
            throw new ArgumentException($"Span of {length} floats too small for {rows}×{cols} with ld={ld}.", name);
    }

    /// <summary>Unchecked pointer entry point (used by the conv kernels).</summary>
    internal static void SgemmCore(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, int maxThreads)
    {
        if (m <= 0 || n <= 0) return;
        if (k == 0 || alpha == 0f) { ScaleC(m, n, beta, c, ldc); return; }

        long work = (long)m * n * k;
        int threads = work >= ParallelThreshold ? Math.Max(1, maxThreads) : 1;

        if (UseFma && !(transA && transB) && (ForceSmall ?? PreferSmall(transA, transB, m, n, k)))
        {
            SmallDispatch(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
            return;
        }

        SgemmWithSource(transA, m, n, k, alpha, a, lda, new MatrixBSource(transB, b, ldb), beta, c, ldc, threads);
    }

    /// <summary>
    /// Packed GEMM whose op(B) panels come from <paramref name="bsrc"/> (a plain matrix, or e.g. an im2col
    /// producer that writes panels straight from the input image).
    /// </summary>
    internal static void SgemmWithSource<TB>(bool transA, int m, int n, int k, float alpha, float* a, nint lda,
        in TB bsrc, float beta, float* c, nint ldc, int maxThreads) where TB : struct, IBPanelSource
    {
        if (m <= 0 || n <= 0) return;
        if (k == 0 || alpha == 0f) { ScaleC(m, n, beta, c, ldc); return; }
        int threads = (long)m * n * k >= ParallelThreshold ? Math.Max(1, maxThreads) : 1;
        if (threads == 1)
        {
            PackedSerial(transA, m, n, k, alpha, a, lda, bsrc, 0, beta, c, ldc);
            return;
        }

        // Split C into a tm×tn grid of independent sub-GEMMs (each packs its own panels: no barriers).
        SplitGrid(m, n, threads, out int tm, out int tn);
        int nAlign = ColumnAlign;
        nint ia = (nint)a, ic = (nint)c;
        TB src = bsrc;
        Parallelism.For(0, tm * tn, t =>
        {
            int ti = t / tn, tj = t % tn;
            int i0 = Boundary(m, ti, tm, MR), i1 = Boundary(m, ti + 1, tm, MR);
            int j0 = Boundary(n, tj, tn, nAlign), j1 = Boundary(n, tj + 1, tn, nAlign);
            if (i0 >= i1 || j0 >= j1) return;
            float* pa = (float*)ia + (transA ? i0 : i0 * lda);
            PackedSerial(transA, i1 - i0, j1 - j0, k, alpha, pa, lda, src, j0, beta, (float*)ic + i0 * ldc + j0, ldc);
        });
    }

    /// <summary>
    /// Column blocks (and per-thread column ranges) start at multiples of the macro-kernel's tile width: 32 for
    /// the AVX-512 12×32 tile, so that a block of n columns leaves at most one narrow edge tile, not one per block.
    /// </summary>
    private static int ColumnAlign => UseFma && KernelIsa.UseAvx512 ? 2 * NR : NR;

    /// <summary>Start of part <paramref name="p"/> of <paramref name="parts"/> over [0,len), aligned to <paramref name="align"/>.</summary>
    private static int Boundary(int len, int p, int parts, int align)
    {
        if (p >= parts) return len;
        long raw = (long)len * p / parts;
        return (int)Math.Min(len, (raw + align / 2) / align * align);
    }

    private static void SplitGrid(int m, int n, int threads, out int tm, out int tn)
    {
        // Pick the factorisation of `threads` that makes sub-blocks closest to square; never cut a dimension
        // into pieces smaller than its register tile.
        tm = 1; tn = threads;
        double best = double.MaxValue;
        for (int f = 1; f <= threads; f++)
        {
            if (threads % f != 0) continue;
            int g = threads / f;
            if (f > 1 && m / f < MR) continue;
            if (g > 1 && n / g < NR) continue;
            double ratio = Math.Abs(Math.Log((double)m / f / ((double)n / g)));
            if (ratio < best) { best = ratio; tm = f; tn = g; }
        }
        if (best == double.MaxValue)
        {
            // Too small to split both ways: split the longer side only.
            if (m / MR >= n / NR) { tm = Math.Max(1, Math.Min(threads, m / MR)); tn = 1; }
            else { tn = Math.Max(1, Math.Min(threads, n / NR)); tm = 1; }
        }
    }

    /// <summary>C = beta·C, never reading C when beta == 0 (so NaNs are cleared).</summary>
    internal static void ScaleC(int m, int n, float beta, float* c, nint ldc)
    {
        if (beta == 1f) return;
        for (int i = 0; i < m; i++)
        {
            var row = new Span<float>(c + i * ldc, n);
            if (beta == 0f) row.Clear();
            else TensorPrimitives.Multiply(row, beta, row);
        }
    }

    [ThreadStatic] private static NativeScratch? t_packA;
    [ThreadStatic] private static NativeScratch? t_packB;

    /// <summary>
    /// Single-threaded blocked GEMM over packed panels. C is m×n; op(B) columns are taken from the source
    /// starting at <paramref name="jOff"/> (a multiple of NR).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackedSerial<TB>(bool transA, int m, int n, int k, float alpha, float* a, nint lda,
        in TB bsrc, int jOff, float beta, float* c, nint ldc) where TB : struct, IBPanelSource
    {
        // Even block sizes (k=300 → 2×150, not 256+44) keep every k-pass efficient.
        int kc = CeilDiv(k, CeilDiv(k, KC));
        int mc = RoundUp(CeilDiv(m, CeilDiv(m, MC)), MR);
        // With a single row block each packed B block is used once, right after packing: keep it L2-sized.
        int ncMax = m <= mc ? NCSingle : NC;
        int nc = RoundUp(CeilDiv(n, CeilDiv(n, ncMax)), ColumnAlign);

        float* bufA = (t_packA ??= new NativeScratch()).Get((nint)mc * kc);
        float* bufB = (t_packB ??= new NativeScratch()).Get((nint)nc * kc);
        bool fma = UseFma;

        if (m <= mc)
        {
            // Single row block: pack each A block once and stream L2-sized B blocks past it.
            for (int pc = 0; pc < k; pc += kc)
            {
                int kcCur = Math.Min(kc, k - pc);
                PackA(transA, transA ? a + pc * lda : a + pc, lda, m, kcCur, bufA);
                float betaEff = pc == 0 ? beta : 1f;
                for (int jc = 0; jc < n; jc += nc)
                {
                    int ncCur = Math.Min(nc, n - jc);
                    bsrc.Pack(pc, kcCur, jOff + jc, ncCur, bufB);
                    MacroKernel(fma, m, ncCur, kcCur, alpha, bufA, bufB, betaEff, c + jc, ldc);
                }
            }
            return;
        }

        for (int jc = 0; jc < n; jc += nc)
        {
            int ncCur = Math.Min(nc, n - jc);
            for (int pc = 0; pc < k; pc += kc)
            {
                int kcCur = Math.Min(kc, k - pc);
                bsrc.Pack(pc, kcCur, jOff + jc, ncCur, bufB);
                float betaEff = pc == 0 ? beta : 1f;

                for (int ic = 0; ic < m; ic += mc)
                {
                    int mcCur = Math.Min(mc, m - ic);
                    float* aSrc = transA ? a + pc * lda + ic : a + ic * lda + pc;
                    PackA(transA, aSrc, lda, mcCur, kcCur, bufA);
                    MacroKernel(fma, mcCur, ncCur, kcCur, alpha, bufA, bufB, betaEff, c + ic * ldc + jc, ldc);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroKernel(bool fma, int mc, int nc, int kc, float alpha, float* pa, float* pb,
        float beta, float* c, nint ldc)
    {
        if (fma && KernelIsa.UseAvx512) { MacroKernel512(mc, nc, kc, alpha, pa, pb, beta, c, ldc); return; }
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* bPanel = pb + (nint)jr * kc;
            for (int ir = 0; ir < mc; ir += MR)
            {
                int mr = Math.Min(MR, mc - ir);
                float* aPanel = pa + (nint)ir * kc;
                float* cTile = c + ir * ldc + jr;
                if (mr == MR && nr == NR)
                {
                    if (fma) Kernel6x16Fma(kc, aPanel, bPanel, cTile, ldc, alpha, beta);
                    else Kernel6x16Portable(kc, aPanel, bPanel, cTile, ldc, alpha, beta);
                }
                else EdgeTile(fma, mr, nr, kc, aPanel, bPanel, cTile, ldc, alpha, beta);
            }
        }
    }

    /// <summary>Partial tile: full 6×16 product into a stack tile, then merge only the valid part.</summary>
    private static void EdgeTile(bool fma, int mr, int nr, int kc, float* aPanel, float* bPanel,
        float* c, nint ldc, float alpha, float beta)
    {
        float* tmp = stackalloc float[MR * NR];
        if (fma) Kernel6x16Fma(kc, aPanel, bPanel, tmp, NR, 1f, 0f);
        else Kernel6x16Portable(kc, aPanel, bPanel, tmp, NR, 1f, 0f);
        for (int i = 0; i < mr; i++)
        {
            float* crow = c + i * ldc;
            float* trow = tmp + i * NR;
            if (beta == 0f) for (int j = 0; j < nr; j++) crow[j] = alpha * trow[j];
            else for (int j = 0; j < nr; j++) crow[j] = alpha * trow[j] + beta * crow[j];
        }
    }

    internal static int CeilDiv(int a, int b) => (a + b - 1) / b;
    internal static int RoundUp(int a, int b) => CeilDiv(a, b) * b;
}
