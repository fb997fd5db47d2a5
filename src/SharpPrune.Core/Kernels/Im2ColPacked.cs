using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// im2col fused into GEMM packing: produces packed B panels of the (C·KH·KW) × (nbc·OH·OW) column matrix of
/// <c>nbc</c> images (image i at img0 + i·imgStride) straight from the input, block by block, so the column
/// matrix is never materialised and each packed block is consumed from L2 right after it is written.
/// </summary>
internal readonly unsafe struct Im2ColSource : IBPanelSource
{
    /// <summary>Per k-row r = (c, i, j): vertical offset, channel + horizontal offset, valid output-x range [Lo, Hi).</summary>
    private struct RowMeta { public int OffH, COff, Lo, Hi; }

    private readonly float* _img0;
    private readonly nint _imgStride;
    private readonly int _height, _width, _strideH, _strideW, _ow, _ohw;
    private readonly RowMeta* _meta;
    /// <summary>Whether every element of the chunk's input is within int range of img0 (the gather path's indices).</summary>
    private readonly bool _indexable;

    /// <summary>Ints of scratch the constructor needs for <paramref name="channels"/>·kh·kw rows.</summary>
    public static int MetaLength(int channels, int kh, int kw) => 4 * channels * kh * kw;

    /// <param name="meta">Scratch of <see cref="MetaLength"/> ints, pinned for the lifetime of this source.</param>
    public Im2ColSource(float* img0, nint imgStride, int nbc, int channels, int height, int width, int kh, int kw,
        int strideH, int strideW, int padH, int padW, int dilH, int dilW, int oh, int ow, int* meta)
    {
        _img0 = img0; _imgStride = imgStride; _height = height; _width = width;
        _strideH = strideH; _strideW = strideW; _ow = ow; _ohw = oh * ow;
        _meta = (RowMeta*)meta;
        _indexable = (long)nbc * imgStride < int.MaxValue / 2;
        int k = channels * kh * kw;
        nint plane = (nint)height * width;
        for (int r = 0; r < k; r++)
        {
            int c = r / (kh * kw), rem = r - c * kh * kw, i = rem / kw, j = rem - i * kw;
            int offW = j * dilW - padW;
            SlidingWindow.ValidRange(offW, strideW, width, ow, out int lo, out int hi);
            _meta[r] = new RowMeta { OffH = i * dilH - padH, COff = checked((int)(c * plane + offW)), Lo = lo, Hi = hi };
        }
    }

    private struct Segment { public int Lane, Len, Y, X; public nint Image; }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Pack(int pc, int kc, int jc, int nc, float* dst)
    {
        const int NR = Gemm.NR;
        // Hoist fields: stores through dst might alias `this`, which would make the JIT re-read them per row.
        float* img0 = _img0;
        nint imgStride = _imgStride;
        int height = _height, width = _width, strideH = _strideH, strideW = _strideW, ow = _ow, ohw = _ohw;
        RowMeta* meta = _meta;
        bool avx = Gemm.UseFma && strideW == 1;
        bool wide = KernelIsa.UseAvx512; // a 16-float panel row is one zmm load and store
        // Short row runs (output width < 8) or strided columns: gather each panel row, 8 lanes per instruction,
        // instead of one masked copy per run (a 2×2 output map gives eight 2-pixel runs per panel).
        bool gather = Gemm.UseFma && _indexable && (strideW != 1 || ow < 8);

        Segment* segs = stackalloc Segment[NR];
        int end = jc + nc;
        for (int jp = jc; jp < end; jp += NR)
        {
            // Split the panel's columns into runs lying in one output row of one image.
            int pend = Math.Min(jp + NR, end), nseg = 0;
            for (int col = jp; col < pend;)
            {
                int b = col / ohw, rem = col - b * ohw, y = rem / ow, x = rem - y * ow;
                int len = Math.Min(pend - col, ow - x);
                segs[nseg++] = new Segment { Lane = col - jp, Len = len, Y = y, X = x, Image = b * imgStride };
                col += len;
            }
            float* d = dst + (nint)(jp - jc) * kc;

            if (gather)
            {
                PackGathered(segs, nseg, d, pc, kc, img0, meta, height, width, strideH, strideW);
                continue;
            }

            if (avx && nseg == 1 && segs[0].Len == NR)
            {
                // Common case (OW a multiple of 16): the panel is 16 contiguous pixels of one output row.
                int x = segs[0].X, yOff = segs[0].Y * strideH;
                float* imgX = img0 + segs[0].Image + x;
                for (int r = pc; r < pc + kc; r++, d += NR)
                {
                    RowMeta mt = meta[r];
                    int ih = yOff + mt.OffH;
                    if ((uint)ih >= (uint)height)
                    {
                        if (wide) Vector512<float>.Zero.Store(d);
                        else { Avx.Store(d, Vector256<float>.Zero); Avx.Store(d + 8, Vector256<float>.Zero); }
                        continue;
                    }
                    float* s = imgX + mt.COff + (nint)ih * width;
                    if (x >= mt.Lo && x + NR <= mt.Hi)
                    {
                        if (wide) Vector512.Load(s).Store(d);
                        else { Avx.Store(d, Avx.LoadVector256(s)); Avx.Store(d + 8, Avx.LoadVector256(s + 8)); }
                    }
                    else CopyMasked(s - x, x, NR, mt.Lo, mt.Hi, d);
                }
                continue;
            }

            int tail = pend - jp;
            for (int r = pc; r < pc + kc; r++, d += NR)
            {
                if (tail < NR) new Span<float>(d + tail, NR - tail).Clear();
                RowMeta mt = meta[r];
                float* rowBase = img0 + mt.COff;
                for (int q = 0; q < nseg; q++)
                {
                    Segment sg = segs[q];
                    int ih = sg.Y * strideH + mt.OffH;
                    if ((uint)ih >= (uint)height) { new Span<float>(d + sg.Lane, sg.Len).Clear(); continue; }
                    float* s = rowBase + sg.Image + (nint)ih * width;
                    if (avx) CopyMasked(s, sg.X, sg.Len, mt.Lo, mt.Hi, d + sg.Lane);
                    else
                    {
                        float* dd = d + sg.Lane;
                        for (int t = 0; t < sg.Len; t++)
                        {
                            int x = sg.X + t;
                            dd[t] = x >= mt.Lo && x < mt.Hi ? s[(nint)x * strideW] : 0f;
                        }
                    }
                }
            }
        }
    }

    /// <summary>
    /// One panel (its column runs in <paramref name="segs"/>) by masked gathers: per lane the input offset of its
    /// output pixel, its first input row and output column; per k-row the tap's offsets are added and lanes whose
    /// input pixel lies in the padding (or past the matrix edge) are zero and never read.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void PackGathered(Segment* segs, int nseg, float* d, int pc, int kc, float* img0, RowMeta* meta,
        int height, int width, int strideH, int strideW)
    {
        const int NR = Gemm.NR;
        int* laneBase = stackalloc int[NR];
        int* laneY = stackalloc int[NR];
        int* laneX = stackalloc int[NR];
        for (int t = 0; t < NR; t++) { laneBase[t] = 0; laneY[t] = int.MinValue / 2; laneX[t] = 0; } // invalid lanes
        for (int q = 0; q < nseg; q++)
        {
            Segment sg = segs[q];
            int y = sg.Y * strideH;
            for (int t = 0; t < sg.Len; t++)
            {
                int x = sg.X + t, lane = sg.Lane + t;
                laneBase[lane] = (int)sg.Image + y * width + x * strideW;
                laneY[lane] = y;
                laneX[lane] = x;
            }
        }
        Vector256<int> base0 = Avx.LoadVector256(laneBase), base1 = Avx.LoadVector256(laneBase + 8);
        Vector256<int> y0 = Avx.LoadVector256(laneY), y1 = Avx.LoadVector256(laneY + 8);
        Vector256<int> x0 = Avx.LoadVector256(laneX), x1 = Avx.LoadVector256(laneX + 8);
        Vector256<int> h = Vector256.Create(height);
        for (int r = pc; r < pc + kc; r++, d += NR)
        {
            RowMeta mt = meta[r];
            Vector256<int> offH = Vector256.Create(mt.OffH), lo = Vector256.Create(mt.Lo), hi = Vector256.Create(mt.Hi);
            Vector256<int> off = Vector256.Create(mt.OffH * width + mt.COff);
            Vector256<int> ih0 = y0 + offH, ih1 = y1 + offH;
            Vector256<int> m0 = Vector256.GreaterThanOrEqual(ih0, Vector256<int>.Zero) & Vector256.LessThan(ih0, h)
                & Vector256.GreaterThanOrEqual(x0, lo) & Vector256.LessThan(x0, hi);
            Vector256<int> m1 = Vector256.GreaterThanOrEqual(ih1, Vector256<int>.Zero) & Vector256.LessThan(ih1, h)
                & Vector256.GreaterThanOrEqual(x1, lo) & Vector256.LessThan(x1, hi);
            Avx.Store(d, Avx2.GatherMaskVector256(Vector256<float>.Zero, img0, base0 + off, m0.AsSingle(), 4));
            Avx.Store(d + 8, Avx2.GatherMaskVector256(Vector256<float>.Zero, img0, base1 + off, m1.AsSingle(), 4));
        }
    }

    /// <summary>d[t] = s[x0 + t] if lo ≤ x0 + t &lt; hi else 0, t ∈ [0, len); masked lanes never touch memory.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CopyMasked(float* s, int x0, int len, int lo, int hi, float* d)
    {
        Vector256<int> lanes = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7);
        Vector256<int> vlo = Vector256.Create(lo), vhi = Vector256.Create(hi);
        for (int t0 = 0; t0 < len; t0 += 8)
        {
            int cnt = Math.Min(8, len - t0), xs = x0 + t0;
            Vector256<int> pos = lanes + Vector256.Create(xs);
            Vector256<int> inRange = Vector256.LessThan(lanes, Vector256.Create(cnt));
            Vector256<int> valid = Vector256.GreaterThanOrEqual(pos, vlo) & Vector256.LessThan(pos, vhi) & inRange;
            Vector256<float> v = Avx.MaskLoad(s + xs, valid.AsSingle());
            if (cnt == 8) Avx.Store(d + t0, v);
            else Avx.MaskStore(d + t0, inRange.AsSingle(), v);
        }
    }
}
