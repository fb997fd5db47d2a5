using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// im2col fused into GEMM packing for the weight gradient, where op(B) = colᵀ (pixels × C·KH·KW). For each
/// 16-row group of the column matrix, the requested pixel range is expanded into an L1-resident 16×kc tile
/// and transposed into the panel, so the column matrix never goes through memory.
/// </summary>
internal readonly unsafe struct Im2ColTransposedSource : IBPanelSource
{
    private readonly float* _img0;
    private readonly nint _imgStride, _plane;
    private readonly int _height, _width, _kh, _kw, _strideH, _strideW, _padH, _padW, _dilH, _dilW, _ow, _ohw;

    public Im2ColTransposedSource(float* img0, nint imgStride, int height, int width, int kh, int kw,
        int strideH, int strideW, int padH, int padW, int dilH, int dilW, int oh, int ow)
    {
        _img0 = img0; _imgStride = imgStride; _plane = (nint)height * width; _height = height; _width = width;
        _kh = kh; _kw = kw; _strideH = strideH; _strideW = strideW; _padH = padH; _padW = padW; _dilH = dilH; _dilW = dilW;
        _ow = ow; _ohw = oh * ow;
    }

    private struct Run { public int Len, Y, X; public nint Image; }

    [ThreadStatic] private static NativeScratch? t_tile;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int pc, int kc, int jc, int nc, float* dst)
    {
        const int NR = Gemm.NR;
        float* img0 = _img0;
        nint plane = _plane;
        int height = _height, width = _width, kh = _kh, kw = _kw, strideH = _strideH, strideW = _strideW, ow = _ow, ohw = _ohw;

        // Pixel range [pc, pc+kc) as runs within one output row of one image (same for every k-row).
        Run[] runArr = System.Buffers.ArrayPool<Run>.Shared.Rent(kc + 1);
        int ld = (kc + 7) & ~7;
        float* tile = (t_tile ??= new NativeScratch()).Get((nint)NR * ld);
        try
        {
            fixed (Run* runs = runArr)
            {
                int nrun = 0;
                for (int p = pc; p < pc + kc;)
                {
                    int b = p / ohw, rem = p - b * ohw, y = rem / ow, x = rem - y * ow;
                    int len = Math.Min(pc + kc - p, ow - x);
                    runs[nrun++] = new Run { Len = len, Y = y, X = x, Image = b * _imgStride };
                    p += len;
                }

                int end = jc + nc;
                for (int jp = jc; jp < end; jp += NR)
                {
                    int rows = Math.Min(NR, end - jp);
                    for (int t = 0; t < NR; t++)
                    {
                        float* trow = tile + (nint)t * ld;
                        if (t >= rows) { new Span<float>(trow, kc).Clear(); continue; }
                        int r = jp + t;
                        int c = r / (kh * kw), rem = r - c * kh * kw, i = rem / kw, j = rem - i * kw;
                        int offH = i * _dilH - _padH, offW = j * _dilW - _padW;
                        SlidingWindow.ValidRange(offW, strideW, width, ow, out int lo, out int hi);
                        float* chan = img0 + c * plane + offW;
                        for (int q = 0; q < nrun; q++)
                        {
                            Run run = runs[q];
                            int ih = run.Y * strideH + offH;
                            if ((uint)ih >= (uint)height) { new Span<float>(trow, run.Len).Clear(); trow += run.Len; continue; }
                            float* s = chan + run.Image + (nint)ih * width;
                            int a = Math.Max(run.X, lo), e = Math.Min(run.X + run.Len, hi);
                            if (e <= a) { new Span<float>(trow, run.Len).Clear(); trow += run.Len; continue; }
                            int before = a - run.X, after = run.X + run.Len - e;
                            for (int z = 0; z < before; z++) trow[z] = 0f;
                            if (strideW == 1) CopyShort(s + a, trow + before, e - a);
                            else for (int z = a; z < e; z++) trow[before + z - a] = s[(nint)z * strideW];
                            for (int z = run.Len - after; z < run.Len; z++) trow[z] = 0f;
                            trow += run.Len;
                        }
                    }
                    TransposeTile(tile, ld, kc, dst + (nint)(jp - jc) * kc);
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<Run>.Shared.Return(runArr);
        }
    }

    /// <summary>Copy of a short run (typically one output row): inline vectors instead of a Memmove call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyShort(float* s, float* d, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.Load(s + i), d + i);
        for (; i < n; i++) d[i] = s[i];
    }

    /// <summary>d[p·16 + t] = tile[t·ld + p] for t &lt; 16, p &lt; kc.</summary>
    private static void TransposeTile(float* tile, int ld, int kc, float* d)
    {
        int p = 0;
        if (Gemm.UseFma)
        {
            for (; p + 8 <= kc; p += 8)
            {
                Gemm.TransposeStore8x8(tile + p, ld, d + p * 16, 16);
                Gemm.TransposeStore8x8(tile + 8 * ld + p, ld, d + p * 16 + 8, 16);
            }
        }
        for (; p < kc; p++)
            for (int t = 0; t < 16; t++) d[p * 16 + t] = tile[(nint)t * ld + p];
    }
}
