using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// AVX2 depthwise kernels for unit horizontal stride (the common case). The plane that is read with
/// horizontal offsets is first copied into a per-thread buffer with zero columns on both sides plus one
/// all-zero row, so every 8-wide output block accumulates all KH·KW taps from plain unaligned loads with
/// no border tests (out-of-image rows map to the zero row through a per-call offset table).
/// The per-plane work lives in static methods taking everything as arguments: inside the lambdas captured
/// values are closure fields and the JIT would keep the accumulators in memory.
/// </summary>
public static unsafe partial class Conv2dKernels
{
    private static bool DepthwiseAvxSupported(in Conv2dGeometry g) => g.StrideW == 1 && Gemm.UseFma;

    [ThreadStatic] private static NativeScratch? t_dwPad;

    /// <summary>
    /// Copies rows × width floats (row stride <paramref name="width"/>) into dst with row stride ld, data at
    /// column offset <paramref name="left"/>, zeros elsewhere.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PadColumns(float* src, int rows, int width, float* dst, int ld, int left)
    {
        // ld is a multiple of 8: clear whole rows with vector stores, then drop the data in.
        for (int r = 0; r < rows; r++, src += width, dst += ld)
        {
            for (int x = 0; x < ld; x += 8) Avx.Store(dst + x, Vector256<float>.Zero);
            int i = 0;
            for (; i + 8 <= width; i += 8) Avx.Store(dst + left + i, Avx.LoadVector256(src + i));
            for (; i < width; i++) dst[left + i] = src[i];
        }
    }

    /// <summary>Stores the first cnt lanes of v at row[start..] (masked stores are microcoded on AMD).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreClipped(float* row, int start, int cnt, Vector256<float> v)
    {
        if (cnt == 8) { Avx.Store(row + start, v); return; }
        Vector256<float> t = v;
        float* tp = (float*)&t;
        for (int i = 0; i < cnt; i++) row[start + i] = tp[i];
    }

    private static int RoundUp8(int x) => (x + 7) & ~7;

    // Output vectors are processed eight at a time ("units" = 8 consecutive outputs of one row) so that eight
    // independent FMA chains hide the FMA latency. Row addresses come from a per-call table of offsets into the
    // padded buffer (rows outside the image map to a trailing all-zero row), so the tap loops are branch-free.

    /// <summary>One group of up to 8 units: out[unit] = bias + Σ_a Σ_c w[a, c]·buf[rowOff[rowIdx(unit) + a·rowStep] + col(unit) + c·colStep].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Taps8(float* buf, nint* rowOff, int* r, int* col, int rowStep, int kh, int kw, nint colStep, float* wt,
        Vector256<float> init, out Vector256<float> a0, out Vector256<float> a1, out Vector256<float> a2, out Vector256<float> a3,
        out Vector256<float> a4, out Vector256<float> a5, out Vector256<float> a6, out Vector256<float> a7)
    {
        a0 = init; a1 = init; a2 = init; a3 = init; a4 = init; a5 = init; a6 = init; a7 = init;
        for (int a = 0; a < kh; a++)
        {
            int ro = a * rowStep;
            float* p0 = buf + rowOff[r[0] + ro] + col[0], p1 = buf + rowOff[r[1] + ro] + col[1];
            float* p2 = buf + rowOff[r[2] + ro] + col[2], p3 = buf + rowOff[r[3] + ro] + col[3];
            float* p4 = buf + rowOff[r[4] + ro] + col[4], p5 = buf + rowOff[r[5] + ro] + col[5];
            float* p6 = buf + rowOff[r[6] + ro] + col[6], p7 = buf + rowOff[r[7] + ro] + col[7];
            float* wa = wt + a * kw;
            for (int c = 0; c < kw; c++)
            {
                Vector256<float> wv = Vector256.Create(wa[c]);
                nint o = c * colStep;
                a0 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p0 + o), a0);
                a1 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p1 + o), a1);
                a2 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p2 + o), a2);
                a3 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p3 + o), a3);
                a4 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p4 + o), a4);
                a5 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p5 + o), a5);
                a6 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p6 + o), a6);
                a7 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p7 + o), a7);
            }
        }
    }

    /// <summary>Stores a group's units (missing units alias the last real one and are skipped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store8(float* plane, int ld, int width, int* row, int* col, int count,
        Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3,
        Vector256<float> a4, Vector256<float> a5, Vector256<float> a6, Vector256<float> a7)
    {
        StoreClipped(plane + (nint)row[0] * ld, col[0], Math.Min(8, width - col[0]), a0);
        if (count > 1) StoreClipped(plane + (nint)row[1] * ld, col[1], Math.Min(8, width - col[1]), a1);
        if (count > 2) StoreClipped(plane + (nint)row[2] * ld, col[2], Math.Min(8, width - col[2]), a2);
        if (count > 3) StoreClipped(plane + (nint)row[3] * ld, col[3], Math.Min(8, width - col[3]), a3);
        if (count > 4) StoreClipped(plane + (nint)row[4] * ld, col[4], Math.Min(8, width - col[4]), a4);
        if (count > 5) StoreClipped(plane + (nint)row[5] * ld, col[5], Math.Min(8, width - col[5]), a5);
        if (count > 6) StoreClipped(plane + (nint)row[6] * ld, col[6], Math.Min(8, width - col[6]), a6);
        if (count > 7) StoreClipped(plane + (nint)row[7] * ld, col[7], Math.Min(8, width - col[7]), a7);
    }

    /// <summary>
    /// Per-call tables shared by all planes: Ints = unit rows | unit first columns | unit first tap-row indices,
    /// each padded to a multiple of 8 by repeating the last unit; RowOff = buffer offset of every tap row.
    /// </summary>
    private sealed class DwPlan
    {
        public int[] Ints = [];
        public nint[] RowOff = [];
        public int Units, Padded;
    }

    // ------------------------------------------------------------------ forward

    private static void DepthwiseForwardAvx(in Conv2dGeometry g, float* input, float* weight, float* bias, float* output)
    {
        var geo = g;
        int h = g.H, w = g.W, kh = g.KH, kw = g.KW, ph = g.PadH, oh = g.OutH, ow = g.OutW, mult = g.COut / g.CIn, kk = kh * kw;
        // Padded column c holds input column c − pw; reads reach RoundUp8(ow) − 1 + (kw − 1)·dw. Row h is all zero.
        int ld = RoundUp8(Math.Max(g.PadW + w, RoundUp8(ow) + (kw - 1) * g.DilW));
        // Tap row index for unit row i and kernel row a: i·sh + a·dh (table entry = input row i·sh − ph + a·dh).
        int span = (oh - 1) * g.StrideH + (kh - 1) * g.DilH + 1;
        var plan = MakePlan(oh, ow, g.StrideH, span, t => { int ih = t - ph; return (uint)ih < (uint)h ? (nint)ih * ld : (nint)h * ld; });
        nint ii = (nint)input, iw = (nint)weight, ib = (nint)bias, io = (nint)output;
        fixed (int* pi = plan.Ints) fixed (nint* pr = plan.RowOff)
        {
            nint ipi = (nint)pi, ipr = (nint)pr;
            ForDepthwisePlanes(g.N * g.COut, (long)oh * ow * kk, p =>
            {
                int b = p / geo.COut, co = p % geo.COut;
                DwForwardPlane((float*)ii + ((nint)b * geo.CIn + co / mult) * geo.H * geo.W, (float*)iw + (nint)co * kk,
                    ib == 0 ? 0f : ((float*)ib)[co], (float*)io + (nint)p * oh * ow, geo, ld, plan.Units, plan.Padded, (int*)ipi, (nint*)ipr);
            });
        }
        ReturnPlan(plan);
    }

    /// <summary>Builds unit tables (row index scaled by rowScale for the tap table) and the tap-row offset table.</summary>
    private static DwPlan MakePlan(int rows, int cols, int rowScale, int span, Func<int, nint> rowOffset)
    {
        int nb = (cols + 7) >> 3, units = rows * nb, padded = (units + 7) & ~7;
        var plan = new DwPlan { Units = units, Padded = padded };
        plan.Ints = System.Buffers.ArrayPool<int>.Shared.Rent(3 * padded);
        for (int q = 0; q < padded; q++)
        {
            int u = Math.Min(q, units - 1), r = u / nb;
            plan.Ints[q] = r;                         // output row (for stores)
            plan.Ints[padded + q] = (u % nb) * 8;     // first column
            plan.Ints[2 * padded + q] = r * rowScale; // first tap-row index
        }
        plan.RowOff = System.Buffers.ArrayPool<nint>.Shared.Rent(span);
        for (int t = 0; t < span; t++) plan.RowOff[t] = rowOffset(t);
        return plan;
    }

    private static void ReturnPlan(DwPlan plan)
    {
        System.Buffers.ArrayPool<int>.Shared.Return(plan.Ints);
        System.Buffers.ArrayPool<nint>.Shared.Return(plan.RowOff);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DwForwardPlane(float* x, float* wt, float bias, float* y, in Conv2dGeometry g, int ld,
        int units, int padded, int* ints, nint* rowOff)
    {
        int h = g.H, w = g.W, kh = g.KH, kw = g.KW, dh = g.DilH, dw = g.DilW, ow = g.OutW;
        float* xp = (t_dwPad ??= new NativeScratch()).Get((nint)(h + 1) * ld);
        PadColumns(x, h, w, xp, ld, g.PadW);
        new Span<float>(xp + (nint)h * ld, ld).Clear();
        Vector256<float> vb = Vector256.Create(bias);
        int* rows = ints, cols = ints + padded, taps = ints + 2 * padded;
        for (int q = 0; q < units; q += 8)
        {
            Taps8(xp, rowOff, taps + q, cols + q, dh, kh, kw, dw, wt, vb,
                out var a0, out var a1, out var a2, out var a3, out var a4, out var a5, out var a6, out var a7);
            Store8(y, ow, ow, rows + q, cols + q, units - q, a0, a1, a2, a3, a4, a5, a6, a7);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Row(float* plane, float* zero, int r, int rows, int ld) =>
        (uint)r < (uint)rows ? plane + (nint)r * ld : zero;

    // ------------------------------------------------------------------ backward (input)

    private static void DepthwiseBackwardInputAvx(in Conv2dGeometry g, float* gradOut, float* weight, float* gradIn)
    {
        var geo = g;
        int h = g.H, w = g.W, kh = g.KH, kw = g.KW, sh = g.StrideH, ph = g.PadH, pw = g.PadW, dh = g.DilH, dw = g.DilW;
        int oh = g.OutH, ow = g.OutW, mult = g.COut / g.CIn, kk = kh * kw;
        // Padded column c holds gradOut column c − left; unit x reads columns [x + pw − (kw−1)·dw, x + pw + 7],
        // i.e. padded [x + shift − (kw−1)·dw, ...] with shift = left + pw. Kernel columns run backwards, so the unit
        // column is pre-shifted to its c = kw − 1 tap and taps advance by +dw in reversed weight order.
        int left = Math.Max(0, (kw - 1) * dw - pw);
        int ld = RoundUp8(Math.Max(left + ow, left + RoundUp8(w) + pw));
        nint padPlane = (nint)oh * ld;
        // Tap rows: for gradIn row ih and (flipped) kernel row a' = kh − 1 − a, t = ih + ph − (kh − 1 − a')·dh.
        int baseT = ph - (kh - 1) * dh, span = h + (kh - 1) * dh;
        var plan = MakePlan(h, w, 1, span, idx =>
        {
            int t = idx + baseT;
            if (t < 0 || t % sh != 0 || t / sh >= oh) return mult * padPlane; // zero row after the mult planes
            return (nint)(t / sh) * ld;
        });
        // Unit column x starts at its first (flipped c = 0) tap: padded column x + colShift, colShift ≥ 0.
        int colShift = left + pw - (kw - 1) * dw;
        // Flipped weights per multiplier channel, so taps advance forwards in both directions.
        float[] flipped = System.Buffers.ArrayPool<float>.Shared.Rent(g.COut * kk);
        for (int co = 0; co < g.COut; co++)
            for (int a = 0; a < kh; a++)
                for (int c = 0; c < kw; c++)
                    flipped[co * kk + a * kw + c] = weight[co * kk + (kh - 1 - a) * kw + (kw - 1 - c)];
        nint igo = (nint)gradOut, igi = (nint)gradIn;
        fixed (int* pi = plan.Ints) fixed (nint* pr = plan.RowOff) fixed (float* pf = flipped)
        {
            nint ipi = (nint)pi, ipr = (nint)pr, ipf = (nint)pf;
            ForDepthwisePlanes(g.N * g.CIn, (long)oh * ow * kk * mult, p =>
            {
                int b = p / geo.CIn, ci = p % geo.CIn;
                DwBackwardInputPlane((float*)igo + ((nint)b * geo.COut + (nint)ci * mult) * oh * ow, (float*)ipf + (nint)ci * mult * kk,
                    mult, (float*)igi + (nint)p * geo.H * geo.W, geo, ld, left, colShift, plan.Units, plan.Padded, (int*)ipi, (nint*)ipr);
            });
        }
        System.Buffers.ArrayPool<float>.Shared.Return(flipped);
        ReturnPlan(plan);
    }

    /// <summary>gradIn[ih, x] = Σ_m Σ w_m[a, c]·gradOut_m[(ih + ph − a·dh)/sh, x + pw − c·dw] over exact divisions.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DwBackwardInputPlane(float* gy0, float* wflip0, int mult, float* gx, in Conv2dGeometry g, int ld, int left,
        int colShift, int units, int padded, int* ints, nint* rowOff)
    {
        int h = g.H, w = g.W, kh = g.KH, kw = g.KW, dh = g.DilH, dw = g.DilW, oh = g.OutH, ow = g.OutW;
        int kk = kh * kw;
        nint padPlane = (nint)oh * ld;
        float* gp = (t_dwPad ??= new NativeScratch()).Get(mult * padPlane + ld);
        for (int m = 0; m < mult; m++) PadColumns(gy0 + (nint)m * oh * ow, oh, ow, gp + m * padPlane, ld, left);
        float* zero = gp + mult * padPlane;
        new Span<float>(zero, ld).Clear();
        int* rows = ints, cols = ints + padded, taps = ints + 2 * padded;
        for (int q = 0; q < units; q += 8)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default, s6 = default, s7 = default;
            for (int m = 0; m < mult; m++)
            {
                // Non-zero rows are offsets within plane m; the zero row offset is relative to gp, so rebase it.
                float* gpm = gp + m * padPlane;
                Taps8Rebased(gpm + colShift, zero + colShift, rowOff, mult * padPlane, taps + q, cols + q, dh, kh, kw, dw, wflip0 + m * kk,
                    ref s0, ref s1, ref s2, ref s3, ref s4, ref s5, ref s6, ref s7);
            }
            Store8(gx, w, w, rows + q, cols + q, units - q, s0, s1, s2, s3, s4, s5, s6, s7);
        }
    }

    /// <summary>As <see cref="Taps8"/> but accumulating, with offsets equal to <paramref name="zeroMarker"/> redirected to the zero row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Taps8Rebased(float* buf, float* zero, nint* rowOff, nint zeroMarker, int* r, int* col, int rowStep, int kh, int kw,
        nint colStep, float* wt, ref Vector256<float> a0, ref Vector256<float> a1, ref Vector256<float> a2, ref Vector256<float> a3,
        ref Vector256<float> a4, ref Vector256<float> a5, ref Vector256<float> a6, ref Vector256<float> a7)
    {
        for (int a = 0; a < kh; a++)
        {
            int ro = a * rowStep;
            float* p0 = Rebase(buf, zero, rowOff[r[0] + ro], zeroMarker) + col[0], p1 = Rebase(buf, zero, rowOff[r[1] + ro], zeroMarker) + col[1];
            float* p2 = Rebase(buf, zero, rowOff[r[2] + ro], zeroMarker) + col[2], p3 = Rebase(buf, zero, rowOff[r[3] + ro], zeroMarker) + col[3];
            float* p4 = Rebase(buf, zero, rowOff[r[4] + ro], zeroMarker) + col[4], p5 = Rebase(buf, zero, rowOff[r[5] + ro], zeroMarker) + col[5];
            float* p6 = Rebase(buf, zero, rowOff[r[6] + ro], zeroMarker) + col[6], p7 = Rebase(buf, zero, rowOff[r[7] + ro], zeroMarker) + col[7];
            float* wa = wt + a * kw;
            for (int c = 0; c < kw; c++)
            {
                Vector256<float> wv = Vector256.Create(wa[c]);
                nint o = c * colStep;
                a0 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p0 + o), a0);
                a1 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p1 + o), a1);
                a2 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p2 + o), a2);
                a3 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p3 + o), a3);
                a4 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p4 + o), a4);
                a5 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p5 + o), a5);
                a6 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p6 + o), a6);
                a7 = Fma.MultiplyAdd(wv, Avx.LoadVector256(p7 + o), a7);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float* Rebase(float* buf, float* zero, nint off, nint zeroMarker) => off == zeroMarker ? zero : buf + off;

    // ------------------------------------------------------------------ backward (weight)

    private static void DepthwiseBackwardWeightAvx(in Conv2dGeometry g, float* input, float* gradOut, float* gradWeight)
    {
        var geo = g;
        int oh = g.OutH, ow = g.OutW, mult = g.COut / g.CIn, kk = g.KH * g.KW;
        nint ii = (nint)input, igo = (nint)gradOut, igw = (nint)gradWeight;
        ForDepthwisePlanes(g.COut, (long)g.N * oh * ow * kk, co =>
            DwBackwardWeightChannel((float*)ii + (nint)(co / mult) * geo.H * geo.W, (float*)igo + (nint)co * oh * ow,
                (float*)igw + (nint)co * kk, geo, oh, ow));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DwBackwardWeightChannel(float* x0Img, float* gy0, float* gw, in Conv2dGeometry g, int oh, int ow)
    {
        int n = g.N, h = g.H, w = g.W, kh = g.KH, kw = g.KW, sh = g.StrideH, ph = g.PadH, pw = g.PadW, dh = g.DilH, dw = g.DilW;
        int kk = kh * kw;
        nint inStride = (nint)g.CIn * h * w, outStride = (nint)g.COut * oh * ow;
        int ld = RoundUp8(Math.Max(pw + w, RoundUp8(ow) + (kw - 1) * dw));
        int ldg = RoundUp8(ow);
        float* xp = (t_dwPad ??= new NativeScratch()).Get((nint)(h + 1) * ld + (nint)oh * ldg);
        float* zero = xp + (nint)h * ld;
        float* gp = zero + ld;
        new Span<float>(zero, ld).Clear();
        // Per-tap accumulators; each unit adds one FMA to each of the kh·kw independent chains.
        Vector256<float>* acc = stackalloc Vector256<float>[kk];
        double* total = stackalloc double[kk];
        for (int t = 0; t < kk; t++) total[t] = 0;
        for (int b = 0; b < n; b++)
        {
            PadColumns(x0Img + b * inStride, h, w, xp, ld, pw);
            // Zero lanes past each gradOut row end make the padded input lanes contribute nothing.
            PadColumns(gy0 + b * outStride, oh, ow, gp, ldg, 0);
            for (int t = 0; t < kk; t++) acc[t] = Vector256<float>.Zero;
            for (int i = 0; i < oh; i++)
                for (int x0 = 0; x0 < ow; x0 += 8)
                {
                    Vector256<float> gv = Avx.LoadVector256(gp + (nint)i * ldg + x0);
                    for (int a = 0; a < kh; a++)
                    {
                        float* row = Row(xp, zero, i * sh - ph + a * dh, h, ld) + x0;
                        Vector256<float>* accA = acc + a * kw;
                        for (int c = 0; c < kw; c++)
                            accA[c] = Fma.MultiplyAdd(gv, Avx.LoadVector256(row + (nint)c * dw), accA[c]);
                    }
                }
            // Flush per image into double so long batches do not lose precision.
            for (int t = 0; t < kk; t++) total[t] += Vector256.Sum(acc[t]);
        }
        for (int t = 0; t < kk; t++) gw[t] = (float)total[t];
    }
}
