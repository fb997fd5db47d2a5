using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// AVX-512 macro-kernel over the same packed panels as the AVX2 one (MR=6-row A panels, NR=16-column B
    /// panels): each 12×32 register tile reads two adjacent A panels and two adjacent B panels, so the packing
    /// and every <see cref="IBPanelSource"/> stay ISA-independent. Edges fall back to the 6×16 tiles.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void MacroKernel512(int mc, int nc, int kc, float alpha, float* pa, float* pb,
        float beta, float* c, nint ldc)
    {
        float* tmp = stackalloc float[2 * MR * 2 * NR];
        for (int jr = 0; jr < nc; jr += 2 * NR)
        {
            int nr = Math.Min(2 * NR, nc - jr);
            float* bPanel = pb + (nint)jr * kc;
            for (int ir = 0; ir < mc; ir += 2 * MR)
            {
                int mr = Math.Min(2 * MR, mc - ir);
                float* aPanel = pa + (nint)ir * kc;
                float* cTile = c + ir * ldc + jr;
                if (nr == 2 * NR)
                {
                    // Row edges stay on zmm tiles: the packed A panels are zero-padded to a multiple of MR rows,
                    // so the kernel computes them and stores only the valid rows.
                    if (mr > MR) Kernel12x32Avx512(kc, aPanel, bPanel, cTile, ldc, alpha, beta, mr);
                    else Kernel6x32Avx512(kc, aPanel, bPanel, cTile, ldc, alpha, beta, mr);
                    continue;
                }
                if (nr > NR)
                {
                    // 17-31 columns: both B panels exist (the second zero-padded); full tile into a stack tile,
                    // then merge the valid columns.
                    if (mr > MR) Kernel12x32Avx512(kc, aPanel, bPanel, tmp, 2 * NR, 1f, 0f, mr);
                    else Kernel6x32Avx512(kc, aPanel, bPanel, tmp, 2 * NR, 1f, 0f, mr);
                    MergeTile(mr, nr, tmp, 2 * NR, cTile, ldc, alpha, beta);
                    continue;
                }
                for (int ii = 0; ii < mr; ii += MR)
                {
                    int mr6 = Math.Min(MR, mr - ii);
                    float* a6 = aPanel + (nint)ii * kc, c6 = cTile + ii * ldc;
                    if (mr6 == MR && nr == NR) Kernel6x16Fma(kc, a6, bPanel, c6, ldc, alpha, beta);
                    else EdgeTile(true, mr6, nr, kc, a6, bPanel, c6, ldc, alpha, beta);
                }
            }
        }
    }

    /// <summary>
    /// 6×32 register tile over one A panel and two B panels (12 zmm accumulators: enough independent FMA chains
    /// to keep both FMA ports busy): the AVX-512 tile for the last 1-6 rows of a block. Stores the first
    /// <paramref name="rows"/> rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x32Avx512(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, int rows)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        float* b2 = b + NR * kc;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Avx512F.LoadAlignedVector512(b), b1 = Avx512F.LoadAlignedVector512(b2);
            Vector512<float> av = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            a += MR; b += NR; b2 += NR;
        }
        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool read = beta != 0f;
        Store512(c, c00, c01, va, vb, read); if (rows == 1) return; c += ldc;
        Store512(c, c10, c11, va, vb, read); if (rows == 2) return; c += ldc;
        Store512(c, c20, c21, va, vb, read); if (rows == 3) return; c += ldc;
        Store512(c, c30, c31, va, vb, read); if (rows == 4) return; c += ldc;
        Store512(c, c40, c41, va, vb, read); if (rows == 5) return; c += ldc;
        Store512(c, c50, c51, va, vb, read);
    }

    /// <summary>c[i, j] = alpha·tmp[i, j] (+ beta·c[i, j]) for the valid mr×nr corner of a computed tile.</summary>
    private static void MergeTile(int mr, int nr, float* tmp, nint ldt, float* c, nint ldc, float alpha, float beta)
    {
        for (int i = 0; i < mr; i++)
        {
            float* crow = c + i * ldc, trow = tmp + i * ldt;
            if (beta == 0f) for (int j = 0; j < nr; j++) crow[j] = alpha * trow[j];
            else for (int j = 0; j < nr; j++) crow[j] = alpha * trow[j] + beta * crow[j];
        }
    }

    /// <summary>
    /// 12×32 register tile: 24 zmm accumulators + 2 B vectors + 1 broadcast = 27 of 32 zmm registers. Rows 0-5
    /// come from A panel <paramref name="a"/>, rows 6-11 from the next panel (a + 6·kc); columns 0-15 from B panel
    /// <paramref name="b"/>, columns 16-31 from the next (b + 16·kc). Per k step: 2 B loads, 12 broadcasts, 24 FMAs
    /// (twice the work per instruction of the 6×16 ymm tile). C = alpha·(A·B) + beta·C; beta == 0 never reads C.
    /// Stores the first <paramref name="rows"/> (7-12) rows: a row edge whose second A panel is zero-padded.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel12x32Avx512(int kc, float* a, float* b, float* c, nint ldc, float alpha, float beta, int rows = 2 * MR)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default, c80 = default, c81 = default;
        Vector512<float> c90 = default, c91 = default, cA0 = default, cA1 = default, cB0 = default, cB1 = default;

        for (nint r = 0; r < 2 * MR; r++)
        {
            Sse.Prefetch0(c + r * ldc);
            Sse.Prefetch0(c + r * ldc + 16);
            Sse.Prefetch0(c + r * ldc + 31);
        }

        float* a2 = a + MR * kc;
        float* b2 = b + NR * kc;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Avx512F.LoadAlignedVector512(b), b1 = Avx512F.LoadAlignedVector512(b2);
            Vector512<float> av = Vector512.Create(a[0]);
            c00 = Avx512F.FusedMultiplyAdd(av, b0, c00); c01 = Avx512F.FusedMultiplyAdd(av, b1, c01);
            av = Vector512.Create(a[1]);
            c10 = Avx512F.FusedMultiplyAdd(av, b0, c10); c11 = Avx512F.FusedMultiplyAdd(av, b1, c11);
            av = Vector512.Create(a[2]);
            c20 = Avx512F.FusedMultiplyAdd(av, b0, c20); c21 = Avx512F.FusedMultiplyAdd(av, b1, c21);
            av = Vector512.Create(a[3]);
            c30 = Avx512F.FusedMultiplyAdd(av, b0, c30); c31 = Avx512F.FusedMultiplyAdd(av, b1, c31);
            av = Vector512.Create(a[4]);
            c40 = Avx512F.FusedMultiplyAdd(av, b0, c40); c41 = Avx512F.FusedMultiplyAdd(av, b1, c41);
            av = Vector512.Create(a[5]);
            c50 = Avx512F.FusedMultiplyAdd(av, b0, c50); c51 = Avx512F.FusedMultiplyAdd(av, b1, c51);
            av = Vector512.Create(a2[0]);
            c60 = Avx512F.FusedMultiplyAdd(av, b0, c60); c61 = Avx512F.FusedMultiplyAdd(av, b1, c61);
            av = Vector512.Create(a2[1]);
            c70 = Avx512F.FusedMultiplyAdd(av, b0, c70); c71 = Avx512F.FusedMultiplyAdd(av, b1, c71);
            av = Vector512.Create(a2[2]);
            c80 = Avx512F.FusedMultiplyAdd(av, b0, c80); c81 = Avx512F.FusedMultiplyAdd(av, b1, c81);
            av = Vector512.Create(a2[3]);
            c90 = Avx512F.FusedMultiplyAdd(av, b0, c90); c91 = Avx512F.FusedMultiplyAdd(av, b1, c91);
            av = Vector512.Create(a2[4]);
            cA0 = Avx512F.FusedMultiplyAdd(av, b0, cA0); cA1 = Avx512F.FusedMultiplyAdd(av, b1, cA1);
            av = Vector512.Create(a2[5]);
            cB0 = Avx512F.FusedMultiplyAdd(av, b0, cB0); cB1 = Avx512F.FusedMultiplyAdd(av, b1, cB1);
            a += MR; a2 += MR; b += NR; b2 += NR;
        }

        Vector512<float> va = Vector512.Create(alpha), vb = Vector512.Create(beta);
        bool read = beta != 0f;
        Store512(c, c00, c01, va, vb, read); c += ldc;
        Store512(c, c10, c11, va, vb, read); c += ldc;
        Store512(c, c20, c21, va, vb, read); c += ldc;
        Store512(c, c30, c31, va, vb, read); c += ldc;
        Store512(c, c40, c41, va, vb, read); c += ldc;
        Store512(c, c50, c51, va, vb, read); c += ldc;
        Store512(c, c60, c61, va, vb, read); if (rows == 7) return; c += ldc;
        Store512(c, c70, c71, va, vb, read); if (rows == 8) return; c += ldc;
        Store512(c, c80, c81, va, vb, read); if (rows == 9) return; c += ldc;
        Store512(c, c90, c91, va, vb, read); if (rows == 10) return; c += ldc;
        Store512(c, cA0, cA1, va, vb, read); if (rows == 11) return; c += ldc;
        Store512(c, cB0, cB1, va, vb, read);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(float* c, Vector512<float> x0, Vector512<float> x1, Vector512<float> va,
        Vector512<float> vb, bool read)
    {
        if (read)
        {
            Avx512F.Store(c, Avx512F.FusedMultiplyAdd(x0, va, Avx512F.Multiply(Avx512F.LoadVector512(c), vb)));
            Avx512F.Store(c + 16, Avx512F.FusedMultiplyAdd(x1, va, Avx512F.Multiply(Avx512F.LoadVector512(c + 16), vb)));
        }
        else
        {
            Avx512F.Store(c, Avx512F.Multiply(x0, va));
            Avx512F.Store(c + 16, Avx512F.Multiply(x1, va));
        }
    }
}
