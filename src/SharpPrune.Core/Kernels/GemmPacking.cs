using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// Packs op(A)[0..mc, 0..kc] (src points at its top-left element) into MR-row micro-panels:
    /// panel ir holds dst[ir·kc + p·MR + r] = op(A)[ir + r, p]; rows past mc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackA(bool transA, float* src, nint lda, int mc, int kc, float* dst)
    {
        for (int ir = 0; ir < mc; ir += MR)
        {
            int mr = Math.Min(MR, mc - ir);
            float* d = dst + (nint)ir * kc;
            if (transA)
            {
                // op(A)[i, p] = src[p·lda + i]: each k step is a short contiguous row.
                float* s = src + ir;
                if (mr == MR)
                {
                    for (int p = 0; p < kc; p++, d += MR, s += lda)
                    {
                        Unsafe.WriteUnaligned(d, Unsafe.ReadUnaligned<Vector128<float>>(s));
                        d[4] = s[4]; d[5] = s[5];
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, d += MR, s += lda)
                        for (int r = 0; r < MR; r++) d[r] = r < mr ? s[r] : 0f;
                }
            }
            else
            {
                // op(A)[i, p] = src[i·lda + p]: interleave MR row streams.
                float* s = src + ir * lda;
                if (mr == MR)
                {
                    int p = 0;
                    if (Avx.IsSupported && !ForcePortable)
                        for (; p + 8 <= kc; p += 8) PackA6x8Avx(s + p, lda, d + p * MR);
                    float* s0 = s, s1 = s + lda, s2 = s1 + lda, s3 = s2 + lda, s4 = s3 + lda, s5 = s4 + lda;
                    for (; p < kc; p++)
                    {
                        float* dd = d + p * MR;
                        dd[0] = s0[p]; dd[1] = s1[p]; dd[2] = s2[p]; dd[3] = s3[p]; dd[4] = s4[p]; dd[5] = s5[p];
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, d += MR)
                        for (int r = 0; r < MR; r++) d[r] = r < mr ? s[r * lda + p] : 0f;
                }
            }
        }
    }

    /// <summary>
    /// 6 rows × 8 k-values → 8 groups of 6 via an 8×8 register transpose (rows 6, 7 are dummies). Each
    /// 8-wide store's 2-float overhang is overwritten by the next group; the last group is written exactly,
    /// so exactly d[0..48) is touched.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackA6x8Avx(float* s, nint lda, float* d)
    {
        Vector256<float> r0 = Avx.LoadVector256(s), r1 = Avx.LoadVector256(s + lda), r2 = Avx.LoadVector256(s + 2 * lda);
        Vector256<float> r3 = Avx.LoadVector256(s + 3 * lda), r4 = Avx.LoadVector256(s + 4 * lda), r5 = Avx.LoadVector256(s + 5 * lda);
        Transpose8x8(r0, r1, r2, r3, r4, r5, r5, r5, out var o0, out var o1, out var o2, out var o3,
            out var o4, out var o5, out var o6, out var o7);
        Avx.Store(d, o0); Avx.Store(d + 6, o1); Avx.Store(d + 12, o2); Avx.Store(d + 18, o3);
        Avx.Store(d + 24, o4); Avx.Store(d + 30, o5); Avx.Store(d + 36, o6);
        // Final group: write 6 floats exactly so nothing outside this block is touched.
        Unsafe.WriteUnaligned(d + 42, o7.GetLower());
        Unsafe.WriteUnaligned(d + 46, o7.GetUpper().GetLower().AsDouble().ToScalar());
    }

    /// <summary>
    /// Packs op(B)[0..kc, 0..nc] (src points at its top-left element) into NR-column micro-panels:
    /// panel jr holds dst[jr·kc + p·NR + j] = op(B)[p, jr + j]; columns past nc are zero.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void PackB(bool transB, float* src, nint ldb, int kc, int nc, float* dst)
    {
        for (int jr = 0; jr < nc; jr += NR)
        {
            int nr = Math.Min(NR, nc - jr);
            float* d = dst + (nint)jr * kc;
            if (!transB)
            {
                float* s = src + jr;
                if (nr == NR && KernelIsa.UseAvx512)
                {
                    // A 16-float panel row is one zmm load and store.
                    for (int p = 0; p < kc; p++, d += NR, s += ldb) Vector512.Load(s).Store(d);
                }
                else if (nr == NR)
                {
                    for (int p = 0; p < kc; p++, d += NR, s += ldb)
                    {
                        Unsafe.WriteUnaligned(d, Unsafe.ReadUnaligned<Vector256<float>>(s));
                        Unsafe.WriteUnaligned(d + 8, Unsafe.ReadUnaligned<Vector256<float>>(s + 8));
                    }
                }
                else
                {
                    for (int p = 0; p < kc; p++, d += NR, s += ldb)
                        for (int j = 0; j < NR; j++) d[j] = j < nr ? s[j] : 0f;
                }
            }
            else
            {
                // op(B)[p, j] = src[j·ldb + p]: 8×8 transposes of rows of B^T.
                float* s = src + jr * ldb;
                int p = 0;
                if (nr == NR && Avx.IsSupported && !ForcePortable)
                {
                    for (; p + 8 <= kc; p += 8)
                    {
                        TransposeStore8x8(s + p, ldb, d + p * NR, NR);
                        TransposeStore8x8(s + 8 * ldb + p, ldb, d + p * NR + 8, NR);
                    }
                }
                for (; p < kc; p++)
                {
                    float* dd = d + p * NR;
                    for (int j = 0; j < NR; j++) dd[j] = j < nr ? s[j * ldb + p] : 0f;
                }
            }
        }
    }

    /// <summary>Reads an 8×8 block (row stride ls) and writes its transpose (row stride ld).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void TransposeStore8x8(float* s, nint ls, float* d, nint ld)
    {
        Transpose8x8(Avx.LoadVector256(s), Avx.LoadVector256(s + ls), Avx.LoadVector256(s + 2 * ls), Avx.LoadVector256(s + 3 * ls),
            Avx.LoadVector256(s + 4 * ls), Avx.LoadVector256(s + 5 * ls), Avx.LoadVector256(s + 6 * ls), Avx.LoadVector256(s + 7 * ls),
            out var o0, out var o1, out var o2, out var o3, out var o4, out var o5, out var o6, out var o7);
        Avx.Store(d, o0); Avx.Store(d + ld, o1); Avx.Store(d + 2 * ld, o2); Avx.Store(d + 3 * ld, o3);
        Avx.Store(d + 4 * ld, o4); Avx.Store(d + 5 * ld, o5); Avx.Store(d + 6 * ld, o6); Avx.Store(d + 7 * ld, o7);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Transpose8x8(Vector256<float> r0, Vector256<float> r1, Vector256<float> r2, Vector256<float> r3,
        Vector256<float> r4, Vector256<float> r5, Vector256<float> r6, Vector256<float> r7,
        out Vector256<float> o0, out Vector256<float> o1, out Vector256<float> o2, out Vector256<float> o3,
        out Vector256<float> o4, out Vector256<float> o5, out Vector256<float> o6, out Vector256<float> o7)
    {
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        o0 = Avx.Permute2x128(u0, u4, 0x20); o1 = Avx.Permute2x128(u1, u5, 0x20);
        o2 = Avx.Permute2x128(u2, u6, 0x20); o3 = Avx.Permute2x128(u3, u7, 0x20);
        o4 = Avx.Permute2x128(u0, u4, 0x31); o5 = Avx.Permute2x128(u1, u5, 0x31);
        o6 = Avx.Permute2x128(u2, u6, 0x31); o7 = Avx.Permute2x128(u3, u7, 0x31);
    }
}
