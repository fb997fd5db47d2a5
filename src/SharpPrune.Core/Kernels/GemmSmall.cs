using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// Direct (unpacked) kernels for tiny or skinny GEMMs, where packing would cost as much as the arithmetic
/// (e.g. batch×features Linear layers with a handful of rows). Require AVX2/FMA; not used for transA&amp;&amp;transB.
/// </summary>
public static unsafe partial class Gemm
{
    private static void SmallDispatch(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, int threads)
    {
        if (threads > 1 && (n >= 32 * threads || m >= 8 * threads))
        {
            bool splitN = n >= 32 * threads;
            nint ia = (nint)a, ib = (nint)b, ic = (nint)c;
            Parallelism.For(0, threads, t =>
            {
                if (splitN)
                {
                    int j0 = Boundary(n, t, threads, 16), j1 = Boundary(n, t + 1, threads, 16);
                    if (j0 >= j1) return;
                    float* pb = (float*)ib + (transB ? j0 * ldb : j0);
                    SmallSerial(transA, transB, m, j1 - j0, k, alpha, (float*)ia, lda, pb, ldb, beta, (float*)ic + j0, ldc);
                }
                else
                {
                    int i0 = Boundary(m, t, threads, 4), i1 = Boundary(m, t + 1, threads, 4);
                    if (i0 >= i1) return;
                    float* pa = (float*)ia + (transA ? i0 : i0 * lda);
                    SmallSerial(transA, transB, i1 - i0, n, k, alpha, pa, lda, (float*)ib, ldb, beta, (float*)ic + i0 * ldc, ldc);
                }
            });
            return;
        }
        SmallSerial(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static void SmallSerial(bool transA, bool transB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        if (!transB) SmallRowAxpy(transA, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else SmallDot(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    private static Vector256<float> LaneMask(int count) =>
        Vector256.LessThan(Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7), Vector256.Create(count)).AsSingle();

    /// <summary>
    /// !transB: C rows are linear combinations of B rows. 4×16 tiles; A is read by scalar broadcast through
    /// (row, k) strides so transA costs nothing. Missing rows alias row 0 (computed, not stored); column tails
    /// use masked loads/stores.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallRowAxpy(bool transA, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        nint ars = transA ? 1 : lda, acs = transA ? lda : 1;
        for (int i = 0; i < m; i += 4)
        {
            int rows = Math.Min(4, m - i);
            float* ar0 = a + i * ars;
            float* ar1 = rows > 1 ? ar0 + ars : ar0, ar2 = rows > 2 ? ar0 + 2 * ars : ar0, ar3 = rows > 3 ? ar0 + 3 * ars : ar0;
            for (int j = 0; j < n; j += 16)
            {
                int cols = Math.Min(16, n - j);
                Vector256<float> m0 = LaneMask(cols), m1 = LaneMask(cols - 8);
                Vector256<float> x00 = default, x01 = default, x10 = default, x11 = default;
                Vector256<float> x20 = default, x21 = default, x30 = default, x31 = default;
                float* bp = b + j;
                float* a0 = ar0, a1 = ar1, a2 = ar2, a3 = ar3;
                if (cols == 16)
                {
                    for (int p = 0; p < k; p++, bp += ldb, a0 += acs, a1 += acs, a2 += acs, a3 += acs)
                    {
                        Vector256<float> b0 = Avx.LoadVector256(bp), b1 = Avx.LoadVector256(bp + 8);
                        Vector256<float> av = Vector256.Create(*a0);
                        x00 = Fma.MultiplyAdd(av, b0, x00); x01 = Fma.MultiplyAdd(av, b1, x01);
                        av = Vector256.Create(*a1);
                        x10 = Fma.MultiplyAdd(av, b0, x10); x11 = Fma.MultiplyAdd(av, b1, x11);
                        av = Vector256.Create(*a2);
                        x20 = Fma.MultiplyAdd(av, b0, x20); x21 = Fma.MultiplyAdd(av, b1, x21);
                        av = Vector256.Create(*a3);
                        x30 = Fma.MultiplyAdd(av, b0, x30); x31 = Fma.MultiplyAdd(av, b1, x31);
                    }
                }
                else
                {
                    for (int p = 0; p < k; p++, bp += ldb, a0 += acs, a1 += acs, a2 += acs, a3 += acs)
                    {
                        Vector256<float> b0 = Avx.MaskLoad(bp, m0), b1 = Avx.MaskLoad(bp + 8, m1);
                        Vector256<float> av = Vector256.Create(*a0);
                        x00 = Fma.MultiplyAdd(av, b0, x00); x01 = Fma.MultiplyAdd(av, b1, x01);
                        av = Vector256.Create(*a1);
                        x10 = Fma.MultiplyAdd(av, b0, x10); x11 = Fma.MultiplyAdd(av, b1, x11);
                        av = Vector256.Create(*a2);
                        x20 = Fma.MultiplyAdd(av, b0, x20); x21 = Fma.MultiplyAdd(av, b1, x21);
                        av = Vector256.Create(*a3);
                        x30 = Fma.MultiplyAdd(av, b0, x30); x31 = Fma.MultiplyAdd(av, b1, x31);
                    }
                }
                float* cp = c + i * ldc + j;
                StoreMasked(cp, x00, x01, cols, m0, m1, alpha, beta);
                if (rows > 1) StoreMasked(cp + ldc, x10, x11, cols, m0, m1, alpha, beta);
                if (rows > 2) StoreMasked(cp + 2 * ldc, x20, x21, cols, m0, m1, alpha, beta);
                if (rows > 3) StoreMasked(cp + 3 * ldc, x30, x31, cols, m0, m1, alpha, beta);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreMasked(float* c, Vector256<float> x0, Vector256<float> x1, int cols,
        Vector256<float> m0, Vector256<float> m1, float alpha, float beta)
    {
        Vector256<float> va = Vector256.Create(alpha);
        x0 = Avx.Multiply(x0, va); x1 = Avx.Multiply(x1, va);
        if (cols == 16)
        {
            if (beta != 0f)
            {
                Vector256<float> vb = Vector256.Create(beta);
                x0 = Fma.MultiplyAdd(Avx.LoadVector256(c), vb, x0);
                x1 = Fma.MultiplyAdd(Avx.LoadVector256(c + 8), vb, x1);
            }
            Avx.Store(c, x0); Avx.Store(c + 8, x1);
        }
        else
        {
            if (beta != 0f)
            {
                Vector256<float> vb = Vector256.Create(beta);
                x0 = Fma.MultiplyAdd(Avx.MaskLoad(c, m0), vb, x0);
                x1 = Fma.MultiplyAdd(Avx.MaskLoad(c + 8, m1), vb, x1);
            }
            Avx.MaskStore(c, m0, x0);
            if (cols > 8) Avx.MaskStore(c + 8, m1, x1);
        }
    }

    /// <summary>
    /// !transA &amp;&amp; transB: every C element is a dot product of two contiguous k-vectors.
    /// 3 A rows × 4 B rows per tile = 12 accumulators; missing rows alias the first one and are not stored.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void SmallDot(int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        int kv = k & ~7;
        Vector256<float> km = LaneMask(k - kv);
        for (int i = 0; i < m; i += 3)
        {
            int rows = Math.Min(3, m - i);
            float* a0 = a + i * lda;
            float* a1 = rows > 1 ? a0 + lda : a0, a2 = rows > 2 ? a0 + 2 * lda : a0;
            for (int j = 0; j < n; j += 4)
            {
                int cols = Math.Min(4, n - j);
                float* b0 = b + j * ldb;
                float* b1 = cols > 1 ? b0 + ldb : b0, b2 = cols > 2 ? b0 + 2 * ldb : b0, b3 = cols > 3 ? b0 + 3 * ldb : b0;
                Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
                Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
                Vector256<float> s20 = default, s21 = default, s22 = default, s23 = default;
                int p = 0;
                for (; p <= k; p += 8)
                {
                    Vector256<float> va0, va1, va2, vb0, vb1, vb2, vb3;
                    if (p < kv)
                    {
                        va0 = Avx.LoadVector256(a0 + p); va1 = Avx.LoadVector256(a1 + p); va2 = Avx.LoadVector256(a2 + p);
                        vb0 = Avx.LoadVector256(b0 + p); vb1 = Avx.LoadVector256(b1 + p);
                        vb2 = Avx.LoadVector256(b2 + p); vb3 = Avx.LoadVector256(b3 + p);
                    }
                    else
                    {
                        if (p == k) break;
                        va0 = Avx.MaskLoad(a0 + p, km); va1 = Avx.MaskLoad(a1 + p, km); va2 = Avx.MaskLoad(a2 + p, km);
                        vb0 = Avx.MaskLoad(b0 + p, km); vb1 = Avx.MaskLoad(b1 + p, km);
                        vb2 = Avx.MaskLoad(b2 + p, km); vb3 = Avx.MaskLoad(b3 + p, km);
                    }
                    s00 = Fma.MultiplyAdd(va0, vb0, s00); s01 = Fma.MultiplyAdd(va0, vb1, s01);
                    s02 = Fma.MultiplyAdd(va0, vb2, s02); s03 = Fma.MultiplyAdd(va0, vb3, s03);
                    s10 = Fma.MultiplyAdd(va1, vb0, s10); s11 = Fma.MultiplyAdd(va1, vb1, s11);
                    s12 = Fma.MultiplyAdd(va1, vb2, s12); s13 = Fma.MultiplyAdd(va1, vb3, s13);
                    s20 = Fma.MultiplyAdd(va2, vb0, s20); s21 = Fma.MultiplyAdd(va2, vb1, s21);
                    s22 = Fma.MultiplyAdd(va2, vb2, s22); s23 = Fma.MultiplyAdd(va2, vb3, s23);
                }
                float* cp = c + i * ldc + j;
                StoreDots(cp, Reduce4(s00, s01, s02, s03), cols, alpha, beta);
                if (rows > 1) StoreDots(cp + ldc, Reduce4(s10, s11, s12, s13), cols, alpha, beta);
                if (rows > 2) StoreDots(cp + 2 * ldc, Reduce4(s20, s21, s22, s23), cols, alpha, beta);
            }
        }
    }

    /// <summary>Horizontal sums of four vectors → one Vector128 [Σx0, Σx1, Σx2, Σx3].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Reduce4(Vector256<float> x0, Vector256<float> x1, Vector256<float> x2, Vector256<float> x3)
    {
        Vector256<float> h = Avx.HorizontalAdd(Avx.HorizontalAdd(x0, x1), Avx.HorizontalAdd(x2, x3));
        return Sse.Add(h.GetLower(), h.GetUpper());
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreDots(float* c, Vector128<float> v, int cols, float alpha, float beta)
    {
        v = Sse.Multiply(v, Vector128.Create(alpha));
        if (cols == 4)
        {
            if (beta != 0f) v = Fma.MultiplyAdd(Sse.LoadVector128(c), Vector128.Create(beta), v);
            Sse.Store(c, v);
        }
        else
        {
            for (int q = 0; q < cols; q++)
                c[q] = beta == 0f ? v.GetElement(q) : v.GetElement(q) + beta * c[q];
        }
    }
}
