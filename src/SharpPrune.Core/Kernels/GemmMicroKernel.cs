using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// 6×16 register tile: 12 ymm accumulators + 2 B vectors + 1 broadcast = 15 of 16 ymm registers.
    /// Per k step: 2 aligned loads of the packed B micro-panel, 6 broadcasts from the packed A micro-panel, 12 FMAs.
    /// C = alpha·(A·B) + beta·C, with beta == 0 never reading C.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16Fma(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;

        // C is usually cold (touched once per k block): start fetching the tile now so the final
        // read-modify-write does not stall on misses. A 16-float row may straddle two lines.
        for (nint r = 0; r < MR; r++)
        {
            Sse.Prefetch0(c + r * ldc);
            Sse.Prefetch0(c + r * ldc + 15);
        }

        // Unrolled ×2 so the pointer bumps and loop test are amortised over 24 FMAs.
        int p = 0;
        for (; p + 1 < kc; p += 2)
        {
            Vector256<float> b0 = Avx.LoadAlignedVector256(b), b1 = Avx.LoadAlignedVector256(b + 8);
            Vector256<float> av = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);

            b0 = Avx.LoadAlignedVector256(b + 16); b1 = Avx.LoadAlignedVector256(b + 24);
            av = Avx.BroadcastScalarToVector256(a + 6);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 7);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 8);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 9);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 10);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 11);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
            a += 12; b += 32;
        }
        if (p < kc)
        {
            Vector256<float> b0 = Avx.LoadAlignedVector256(b), b1 = Avx.LoadAlignedVector256(b + 8);
            Vector256<float> av = Avx.BroadcastScalarToVector256(a);
            c00 = Fma.MultiplyAdd(av, b0, c00); c01 = Fma.MultiplyAdd(av, b1, c01);
            av = Avx.BroadcastScalarToVector256(a + 1);
            c10 = Fma.MultiplyAdd(av, b0, c10); c11 = Fma.MultiplyAdd(av, b1, c11);
            av = Avx.BroadcastScalarToVector256(a + 2);
            c20 = Fma.MultiplyAdd(av, b0, c20); c21 = Fma.MultiplyAdd(av, b1, c21);
            av = Avx.BroadcastScalarToVector256(a + 3);
            c30 = Fma.MultiplyAdd(av, b0, c30); c31 = Fma.MultiplyAdd(av, b1, c31);
            av = Avx.BroadcastScalarToVector256(a + 4);
            c40 = Fma.MultiplyAdd(av, b0, c40); c41 = Fma.MultiplyAdd(av, b1, c41);
            av = Avx.BroadcastScalarToVector256(a + 5);
            c50 = Fma.MultiplyAdd(av, b0, c50); c51 = Fma.MultiplyAdd(av, b1, c51);
        }

        Vector256<float> va = Vector256.Create(alpha);
        if (beta == 0f)
        {
            Avx.Store(c, Avx.Multiply(c00, va)); Avx.Store(c + 8, Avx.Multiply(c01, va)); c += ldc;
            Avx.Store(c, Avx.Multiply(c10, va)); Avx.Store(c + 8, Avx.Multiply(c11, va)); c += ldc;
            Avx.Store(c, Avx.Multiply(c20, va)); Avx.Store(c + 8, Avx.Multiply(c21, va)); c += ldc;
            Avx.Store(c, Avx.Multiply(c30, va)); Avx.Store(c + 8, Avx.Multiply(c31, va)); c += ldc;
            Avx.Store(c, Avx.Multiply(c40, va)); Avx.Store(c + 8, Avx.Multiply(c41, va)); c += ldc;
            Avx.Store(c, Avx.Multiply(c50, va)); Avx.Store(c + 8, Avx.Multiply(c51, va));
        }
        else
        {
            Vector256<float> vb = Vector256.Create(beta);
            UpdateRow(c, c00, c01, va, vb); c += ldc;
            UpdateRow(c, c10, c11, va, vb); c += ldc;
            UpdateRow(c, c20, c21, va, vb); c += ldc;
            UpdateRow(c, c30, c31, va, vb); c += ldc;
            UpdateRow(c, c40, c41, va, vb); c += ldc;
            UpdateRow(c, c50, c51, va, vb);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateRow(float* c, Vector256<float> x0, Vector256<float> x1, Vector256<float> va, Vector256<float> vb)
    {
        Avx.Store(c, Fma.MultiplyAdd(x0, va, Avx.Multiply(Avx.LoadVector256(c), vb)));
        Avx.Store(c + 8, Fma.MultiplyAdd(x1, va, Avx.Multiply(Avx.LoadVector256(c + 8), vb)));
    }

    /// <summary>Portable 6×16 tile (Vector128: SSE on old x64, NEON on Arm64) for machines without AVX2/FMA.</summary>
    private static void Kernel6x16Portable(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta)
    {
        // Accumulators live in a small stack block: the portable path favours simplicity over the last 2×.
        Vector128<float>* acc = stackalloc Vector128<float>[MR * 4];
        for (int i = 0; i < MR * 4; i++) acc[i] = Vector128<float>.Zero;
        for (int p = 0; p < kc; p++)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4);
            Vector128<float> b2 = Vector128.Load(b + 8), b3 = Vector128.Load(b + 12);
            for (int r = 0; r < MR; r++)
            {
                Vector128<float> av = Vector128.Create(a[r]);
                Vector128<float>* row = acc + r * 4;
                row[0] = Vector128.MultiplyAddEstimate(av, b0, row[0]);
                row[1] = Vector128.MultiplyAddEstimate(av, b1, row[1]);
                row[2] = Vector128.MultiplyAddEstimate(av, b2, row[2]);
                row[3] = Vector128.MultiplyAddEstimate(av, b3, row[3]);
            }
            a += MR; b += NR;
        }
        for (int r = 0; r < MR; r++)
        {
            float* crow = c + r * ldc;
            for (int q = 0; q < 4; q++)
            {
                Vector128<float> v = acc[r * 4 + q] * alpha;
                if (beta != 0f) v += Vector128.Load(crow + q * 4) * beta;
                v.Store(crow + q * 4);
            }
        }
    }
}
