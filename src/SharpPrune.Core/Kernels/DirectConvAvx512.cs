using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// AVX-512 forward tiles of the direct convolution (and the weight-gradient tile): 6 (or 4) output channels × 32 consecutive output pixels,
/// two zmm vectors per k step. Each zmm holds 16 pixels; when the output width is a multiple of 16 they are 16
/// consecutive floats of one padded row (one load), otherwise two 8-pixel halves from their own rows (the layout
/// the AVX2 tile already reads, joined into one register). Same packed weights, offsets and epilogue as the
/// AVX2 tiles, so the two paths differ only in vector width.
/// </summary>
internal static unsafe partial class DirectConv
{
    /// <summary>Loads the 16 pixels of a zmm vector at tap offset o.</summary>
    private interface IPixels16
    {
        static abstract Vector512<float> Load(float* lo, float* hi, nint o);
    }

    /// <summary>The 16 pixels are consecutive in one padded row (hi == lo + 8).</summary>
    private struct Contiguous16 : IPixels16
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(float* lo, float* hi, nint o) => Avx512F.LoadVector512(lo + o);
    }

    /// <summary>Two 8-pixel halves in different rows.</summary>
    private struct Halves16 : IPixels16
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(float* lo, float* hi, nint o) =>
            Vector512.Create(Avx.LoadVector256(lo + o), Avx.LoadVector256(hi + o));
    }

    /// <summary>Pointer into the padded copy of the first pixel of the 8-pixel run starting at output pixel p.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Run8(float* xp, int p, int ow, int wp)
    {
        int yy = p / ow;
        return xp + (nint)yy * wp + (p - yy * ow);
    }

    /// <summary>One channel panel × 32 pixels (output pixels p0..p0+32) through the tile for the given row count.</summary>
    private static void Tile32(int pr, int kc, float* a, nint lda, int* off, float* xp, int p0, int ow, int wp, float* c,
        nint ldc, int mr, in Epilogue e)
    {
        float* b0 = Run8(xp, p0, ow, wp), b1 = Run8(xp, p0 + 8, ow, wp);
        float* b2 = Run8(xp, p0 + 16, ow, wp), b3 = Run8(xp, p0 + 24, ow, wp);
        if (ow % 16 == 0)
        {
            if (pr == 6) Kernel6x32<Contiguous16>(kc, a, lda, off, b0, b1, b2, b3, c, ldc, mr, e);
            else Kernel4x32<Contiguous16>(kc, a, lda, off, b0, b1, b2, b3, c, ldc, mr, e);
        }
        else
        {
            if (pr == 6) Kernel6x32<Halves16>(kc, a, lda, off, b0, b1, b2, b3, c, ldc, mr, e);
            else Kernel4x32<Halves16>(kc, a, lda, off, b0, b1, b2, b3, c, ldc, mr, e);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow512(float* c, Vector512<float> lo, Vector512<float> hi, in Epilogue e, int r)
    {
        if (e.Accumulate)
        {
            lo += Avx512F.LoadVector512(c);
            hi += Avx512F.LoadVector512(c + 16);
        }
        if (e.Bias != null)
        {
            var bv = Vector512.Create(e.Bias[r]);
            lo += bv; hi += bv;
        }
        if (e.Scale != null)
        {
            var sv = Vector512.Create(e.Scale[r]); var tv = Vector512.Create(e.Shift[r]);
            lo = Avx512F.FusedMultiplyAdd(lo, sv, tv); hi = Avx512F.FusedMultiplyAdd(hi, sv, tv);
        }
        if (e.HasResidual)
        {
            lo += Avx512F.LoadVector512(c + e.ResidualDelta);
            hi += Avx512F.LoadVector512(c + e.ResidualDelta + 16);
        }
        if (e.Relu)
        {
            // max(0, v) keeps NaN, like the ReLU kernel.
            lo = Avx512F.Max(Vector512<float>.Zero, lo); hi = Avx512F.Max(Vector512<float>.Zero, hi);
        }
        Avx512F.Store(c, lo);
        Avx512F.Store(c + 16, hi);
    }

    /// <summary>6 output channels × 32 pixels over kc taps: 12 zmm accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x32<TL>(int kc, float* a, nint lda, int* off, float* b0, float* b1, float* b2, float* b3,
        float* c, nint ldc, int mr, in Epilogue e) where TL : struct, IPixels16
    {
        Rows6(a, lda, mr, out float* a0, out float* a1, out float* a2, out float* a3, out float* a4, out float* a5);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            nint o = off[p];
            Vector512<float> v0 = TL.Load(b0, b1, o), v1 = TL.Load(b2, b3, o);
            Vector512<float> av = Vector512.Create(a0[p]);
            c00 = Avx512F.FusedMultiplyAdd(av, v0, c00); c01 = Avx512F.FusedMultiplyAdd(av, v1, c01);
            av = Vector512.Create(a1[p]);
            c10 = Avx512F.FusedMultiplyAdd(av, v0, c10); c11 = Avx512F.FusedMultiplyAdd(av, v1, c11);
            av = Vector512.Create(a2[p]);
            c20 = Avx512F.FusedMultiplyAdd(av, v0, c20); c21 = Avx512F.FusedMultiplyAdd(av, v1, c21);
            av = Vector512.Create(a3[p]);
            c30 = Avx512F.FusedMultiplyAdd(av, v0, c30); c31 = Avx512F.FusedMultiplyAdd(av, v1, c31);
            av = Vector512.Create(a4[p]);
            c40 = Avx512F.FusedMultiplyAdd(av, v0, c40); c41 = Avx512F.FusedMultiplyAdd(av, v1, c41);
            av = Vector512.Create(a5[p]);
            c50 = Avx512F.FusedMultiplyAdd(av, v0, c50); c51 = Avx512F.FusedMultiplyAdd(av, v1, c51);
        }
        StoreRow512(c, c00, c01, e, 0);
        if (mr > 1) StoreRow512(c + ldc, c10, c11, e, 1);
        if (mr > 2) StoreRow512(c + 2 * ldc, c20, c21, e, 2);
        if (mr > 3) StoreRow512(c + 3 * ldc, c30, c31, e, 3);
        if (mr > 4) StoreRow512(c + 4 * ldc, c40, c41, e, 4);
        if (mr > 5) StoreRow512(c + 5 * ldc, c50, c51, e, 5);
    }

    /// <summary>4 output channels × 32 pixels (panel remainder of 4, or fewer rows zero-padded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x32<TL>(int kc, float* a, nint lda, int* off, float* b0, float* b1, float* b2, float* b3,
        float* c, nint ldc, int mr, in Epilogue e) where TL : struct, IPixels16
    {
        Rows4(a, lda, mr, out float* a0, out float* a1, out float* a2, out float* a3);
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++)
        {
            nint o = off[p];
            Vector512<float> v0 = TL.Load(b0, b1, o), v1 = TL.Load(b2, b3, o);
            Vector512<float> av = Vector512.Create(a0[p]);
            c00 = Avx512F.FusedMultiplyAdd(av, v0, c00); c01 = Avx512F.FusedMultiplyAdd(av, v1, c01);
            av = Vector512.Create(a1[p]);
            c10 = Avx512F.FusedMultiplyAdd(av, v0, c10); c11 = Avx512F.FusedMultiplyAdd(av, v1, c11);
            av = Vector512.Create(a2[p]);
            c20 = Avx512F.FusedMultiplyAdd(av, v0, c20); c21 = Avx512F.FusedMultiplyAdd(av, v1, c21);
            av = Vector512.Create(a3[p]);
            c30 = Avx512F.FusedMultiplyAdd(av, v0, c30); c31 = Avx512F.FusedMultiplyAdd(av, v1, c31);
        }
        StoreRow512(c, c00, c01, e, 0);
        if (mr > 1) StoreRow512(c + ldc, c10, c11, e, 1);
        if (mr > 2) StoreRow512(c + 2 * ldc, c20, c21, e, 2);
        if (mr > 3) StoreRow512(c + 3 * ldc, c30, c31, e, 3);
    }

    /// <summary>
    /// AVX-512 weight-gradient tile: 8 output channels × 3 taps (24 zmm accumulators), 16 pixels per step. Per step
    /// it loads 3 pixel vectors and 8 gradient vectors for 24 FMAs (the 4×3 tile: 7 loads for 12), so the loads,
    /// two of three unaligned, no longer bound it. Rows past <paramref name="mr"/> repeat the last one (computed,
    /// never stored); <paramref name="g"/> rows are <paramref name="ldg"/> apart.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightKernel8x3Avx512<TL>(int vecs, int* xoff, float* g, nint ldg,
        float* x0p, float* x1p, float* x2p, float* dst, nint ldd, int mr, int nk) where TL : struct, IPixels16
    {
        float* g0 = g, g1 = g + Math.Min(1, mr - 1) * ldg, g2 = g + Math.Min(2, mr - 1) * ldg, g3 = g + Math.Min(3, mr - 1) * ldg;
        float* g4 = g + Math.Min(4, mr - 1) * ldg, g5 = g + Math.Min(5, mr - 1) * ldg, g6 = g + Math.Min(6, mr - 1) * ldg, g7 = g + Math.Min(7, mr - 1) * ldg;
        Vector512<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
        Vector512<float> a40 = default, a41 = default, a42 = default, a50 = default, a51 = default, a52 = default;
        Vector512<float> a60 = default, a61 = default, a62 = default, a70 = default, a71 = default, a72 = default;
        for (int v = 0; v + 1 < vecs; v += 2)
        {
            nint xo = xoff[v], xo1 = xoff[v + 1] - xo, go = (nint)v * 8;
            Vector512<float> x0 = TL.Load(x0p + xo, x0p + xo + xo1, 0);
            Vector512<float> x1 = TL.Load(x1p + xo, x1p + xo + xo1, 0);
            Vector512<float> x2 = TL.Load(x2p + xo, x2p + xo + xo1, 0);
            Vector512<float> gv = Avx512F.LoadVector512(g0 + go);
            a00 = Avx512F.FusedMultiplyAdd(gv, x0, a00); a01 = Avx512F.FusedMultiplyAdd(gv, x1, a01); a02 = Avx512F.FusedMultiplyAdd(gv, x2, a02);
            gv = Avx512F.LoadVector512(g1 + go);
            a10 = Avx512F.FusedMultiplyAdd(gv, x0, a10); a11 = Avx512F.FusedMultiplyAdd(gv, x1, a11); a12 = Avx512F.FusedMultiplyAdd(gv, x2, a12);
            gv = Avx512F.LoadVector512(g2 + go);
            a20 = Avx512F.FusedMultiplyAdd(gv, x0, a20); a21 = Avx512F.FusedMultiplyAdd(gv, x1, a21); a22 = Avx512F.FusedMultiplyAdd(gv, x2, a22);
            gv = Avx512F.LoadVector512(g3 + go);
            a30 = Avx512F.FusedMultiplyAdd(gv, x0, a30); a31 = Avx512F.FusedMultiplyAdd(gv, x1, a31); a32 = Avx512F.FusedMultiplyAdd(gv, x2, a32);
            gv = Avx512F.LoadVector512(g4 + go);
            a40 = Avx512F.FusedMultiplyAdd(gv, x0, a40); a41 = Avx512F.FusedMultiplyAdd(gv, x1, a41); a42 = Avx512F.FusedMultiplyAdd(gv, x2, a42);
            gv = Avx512F.LoadVector512(g5 + go);
            a50 = Avx512F.FusedMultiplyAdd(gv, x0, a50); a51 = Avx512F.FusedMultiplyAdd(gv, x1, a51); a52 = Avx512F.FusedMultiplyAdd(gv, x2, a52);
            gv = Avx512F.LoadVector512(g6 + go);
            a60 = Avx512F.FusedMultiplyAdd(gv, x0, a60); a61 = Avx512F.FusedMultiplyAdd(gv, x1, a61); a62 = Avx512F.FusedMultiplyAdd(gv, x2, a62);
            gv = Avx512F.LoadVector512(g7 + go);
            a70 = Avx512F.FusedMultiplyAdd(gv, x0, a70); a71 = Avx512F.FusedMultiplyAdd(gv, x1, a71); a72 = Avx512F.FusedMultiplyAdd(gv, x2, a72);
        }
        AddRow512(dst, a00, a01, a02, nk);
        if (mr > 1) AddRow512(dst + ldd, a10, a11, a12, nk);
        if (mr > 2) AddRow512(dst + 2 * ldd, a20, a21, a22, nk);
        if (mr > 3) AddRow512(dst + 3 * ldd, a30, a31, a32, nk);
        if (mr > 4) AddRow512(dst + 4 * ldd, a40, a41, a42, nk);
        if (mr > 5) AddRow512(dst + 5 * ldd, a50, a51, a52, nk);
        if (mr > 6) AddRow512(dst + 6 * ldd, a60, a61, a62, nk);
        if (mr > 7) AddRow512(dst + 7 * ldd, a70, a71, a72, nk);
    }

    /// <summary>d[t] += Σ lanes of s_t for t &lt; nk: halves folded, then <see cref="AddRow"/>'s tree.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow512(float* d, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2, int nk) =>
        AddRow(d, s0.GetLower() + s0.GetUpper(), s1.GetLower() + s1.GetUpper(), s2.GetLower() + s2.GetUpper(), nk);
}
