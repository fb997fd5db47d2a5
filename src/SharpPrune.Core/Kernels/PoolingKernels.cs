using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// 2-D pooling over NCHW planes with PyTorch semantics (ceil_mode = false). Every kernel treats the input as
/// N·C independent H×W planes and parallelises over planes when the tensor is large.
/// </summary>
public static unsafe class PoolingKernels
{
    public static int OutputSize(int size, int kernel, int stride, int pad, int dilation = 1) =>
        SlidingWindow.OutputSize(size, kernel, stride, pad, dilation);

    private const long ParallelElements = 1 << 16;

    /// <summary>Runs body(firstPlane, endPlane) over [0, planes), in parallel blocks when the work is large.</summary>
    private static void ForPlanes(int planes, long elementsPerPlane, Action<int, int> body)
    {
        int threads = Parallelism.AvailableThreads;
        if (threads == 1 || planes < 2 || planes * elementsPerPlane < ParallelElements) { body(0, planes); return; }
        int blocks = Math.Min(planes, threads * 4);
        Parallelism.For(0, blocks, i => body((int)((long)planes * i / blocks), (int)((long)planes * (i + 1) / blocks)));
    }

    private static void CheckLength(int length, long needed, string name)
    {
        if (length < needed) throw new ArgumentException($"Span of {length} elements, {needed} required.", name);
    }

    private static void CheckWindow(int h, int w, int kH, int kW, int sH, int sW, int pH, int pW)
    {
        if (h <= 0 || w <= 0 || kH <= 0 || kW <= 0 || sH <= 0 || sW <= 0 || pH < 0 || pW < 0)
            throw new ArgumentException("Invalid pooling geometry.");
        if (pH * 2 > kH || pW * 2 > kW) throw new ArgumentException("Padding must be at most half the kernel size.");
        if (h + 2 * pH < kH || w + 2 * pW < kW) throw new ArgumentException("Kernel larger than padded input.");
    }

    // ------------------------------------------------------------------ max pooling

    /// <summary>
    /// MaxPool2d forward. <paramref name="indices"/> (may be empty) receives, per output, the flat index ih·W + iw
    /// of the maximum within its input plane, like PyTorch. NaN propagates (a NaN in the window wins).
    /// </summary>
    public static void MaxPool2dForward(int n, int c, int h, int w, int kH, int kW, int sH, int sW, int pH, int pW,
        ReadOnlySpan<float> input, Span<float> output, Span<int> indices)
    {
        CheckWindow(h, w, kH, kW, sH, sW, pH, pW);
        int oh = OutputSize(h, kH, sH, pH), ow = OutputSize(w, kW, sW, pW);
        int planes = n * c;
        CheckLength(input.Length, (long)planes * h * w, nameof(input));
        CheckLength(output.Length, (long)planes * oh * ow, nameof(output));
        bool writeIdx = !indices.IsEmpty;
        if (writeIdx) CheckLength(indices.Length, (long)planes * oh * ow, nameof(indices));
        fixed (float* pin = input) fixed (float* pout = output) fixed (int* pidx = indices)
        {
            nint ii = (nint)pin, io = (nint)pout, ix = (nint)pidx;
            bool twoByTwo = kH == 2 && kW == 2 && sH == 2 && sW == 2 && pH == 0 && pW == 0;
            ForPlanes(planes, (long)oh * ow * kH * kW, (p0, p1) =>
            {
                if (twoByTwo && ow < 16 && KernelIsa.UseAvx512 && Flat2x2.Fits(h, w, oh, ow))
                {
                    // Small planes (VGG's 8×8 → 4×4, AlexNet's 4×4 → 2×2): 16 outputs per step across rows and planes.
                    p0 = MaxPool2x2Flat512((float*)ii, (float*)io, writeIdx ? (int*)ix : null, p0, p1, h, w, oh, ow);
                }
                for (int p = p0; p < p1; p++)
                {
                    float* x = (float*)ii + (nint)p * h * w;
                    float* y = (float*)io + (nint)p * oh * ow;
                    int* idx = writeIdx ? (int*)ix + (nint)p * oh * ow : null;
                    if (twoByTwo)
                    {
                        MaxPool2x2(x, y, idx, w, oh, ow);
                        continue;
                    }
                    for (int i = 0; i < oh; i++)
                    {
                        int hs = i * sH - pH, he = Math.Min(hs + kH, h);
                        hs = Math.Max(hs, 0);
                        for (int j = 0; j < ow; j++)
                        {
                            int ws = j * sW - pW, we = Math.Min(ws + kW, w);
                            ws = Math.Max(ws, 0);
                            float best = float.NegativeInfinity;
                            int bestIdx = hs * w + ws;
                            for (int r = hs; r < he; r++)
                            {
                                float* row = x + r * w;
                                for (int q = ws; q < we; q++)
                                {
                                    float v = row[q];
                                    if (v > best || float.IsNaN(v)) { best = v; bestIdx = r * w + q; }
                                }
                            }
                            y[i * ow + j] = best;
                            if (idx != null) idx[i * ow + j] = bestIdx;
                        }
                    }
                }
            });
        }
    }

    /// <summary>
    /// The common 2×2 / stride 2 / no padding window (LeNet, VGG, AlexNet): same scan order, tie and NaN rules
    /// as the general loop; 8 outputs per step with AVX when no indices are needed (inference).
    /// </summary>
    private static void MaxPool2x2(float* x, float* y, int* idx, int w, int oh, int ow)
    {
        // The ISA cap (SP_MAX_ISA, the tests' forced paths) holds here too, so the scalar loop is tested on AVX2 CPUs.
        bool avx2 = KernelIsa.UseAvx2, avx512 = KernelIsa.UseAvx512;
        for (int i = 0; i < oh; i++)
        {
            float* r0 = x + (nint)2 * i * w, r1 = r0 + w;
            float* yr = y + (nint)i * ow;
            int j = 0;
            if (avx512 && ow >= 16) j = MaxPool2x2Row512(r0, r1, yr, idx == null ? null : idx + (nint)i * ow, 2 * i * w, w, ow);
            if (idx == null && avx2)
                for (; j + 8 <= ow; j += 8)
                {
                    var a = MaxNan(Avx.LoadVector256(r0 + 2 * j), Avx.LoadVector256(r1 + 2 * j));
                    var b = MaxNan(Avx.LoadVector256(r0 + 2 * j + 8), Avx.LoadVector256(r1 + 2 * j + 8));
                    // Pairs: evens and odds of a|b per 128-bit lane, then restore order across lanes.
                    var m = MaxNan(Avx.Shuffle(a, b, 0b10_00_10_00), Avx.Shuffle(a, b, 0b11_01_11_01));
                    Avx.Store(yr + j, System.Runtime.Intrinsics.X86.Avx2.Permute4x64(m.AsDouble(), 0b11_01_10_00).AsSingle());
                }
            if (idx != null && avx2)
            {
                // Training: the same four steps as the scalar loop, on 8 windows at once, carrying the index.
                int* yi = idx + (nint)i * ow;
                var lane2 = Vector256.Create(0, 2, 4, 6, 8, 10, 12, 14);
                for (; j + 8 <= ow; j += 8)
                {
                    Vector256<float> x0 = Avx.LoadVector256(r0 + 2 * j), x1 = Avx.LoadVector256(r0 + 2 * j + 8);
                    Vector256<float> z0 = Avx.LoadVector256(r1 + 2 * j), z1 = Avx.LoadVector256(r1 + 2 * j + 8);
                    Vector256<int> i0 = Vector256.Create(2 * i * w + 2 * j) + lane2;
                    Vector256<float> best = Evens(x0, x1);
                    Vector256<int> bi = i0;
                    MaxStep(ref best, ref bi, Odds(x0, x1), i0 + Vector256<int>.One);
                    MaxStep(ref best, ref bi, Evens(z0, z1), i0 + Vector256.Create(w));
                    MaxStep(ref best, ref bi, Odds(z0, z1), i0 + Vector256.Create(w + 1));
                    Avx.Store(yr + j, best);
                    Avx.Store(yi + j, bi);
                }
            }
            for (; j < ow; j++)
            {
                int q = 2 * j, rowOff = 2 * i * w;
                float best = r0[q], v; // the general loop's first step
                int bi = rowOff + q;
                v = r0[q + 1]; if (v > best || float.IsNaN(v)) { best = v; bi = rowOff + q + 1; }
                v = r1[q]; if (v > best || float.IsNaN(v)) { best = v; bi = rowOff + w + q; }
                v = r1[q + 1]; if (v > best || float.IsNaN(v)) { best = v; bi = rowOff + w + q + 1; }
                yr[j] = best;
                if (idx != null) idx[(nint)i * ow + j] = bi;
            }
        }
    }

    /// <summary>
    /// 16 outputs per step of one output row (ow ≥ 16); returns the first output not done. Same four steps per window
    /// as the scalar loop, so the same ties, NaN and index rules.
    /// </summary>
    private static int MaxPool2x2Row512(float* r0, float* r1, float* yr, int* yi, int rowOff, int w, int ow)
    {
        var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        var odd = even + Vector512<int>.One;
        int j = 0;
        for (; j + 16 <= ow; j += 16)
        {
            Vector512<float> a0 = Vector512.Load(r0 + 2 * j), a1 = Vector512.Load(r0 + 2 * j + 16);
            Vector512<float> b0 = Vector512.Load(r1 + 2 * j), b1 = Vector512.Load(r1 + 2 * j + 16);
            Vector512<float> t00 = Avx512F.PermuteVar16x32x2(a0, even, a1), t01 = Avx512F.PermuteVar16x32x2(a0, odd, a1);
            Vector512<float> t10 = Avx512F.PermuteVar16x32x2(b0, even, b1), t11 = Avx512F.PermuteVar16x32x2(b0, odd, b1);
            if (yi == null)
            {
                MaxNan(MaxNan(t00, t01), MaxNan(t10, t11)).Store(yr + j);
                continue;
            }
            var i0 = Vector512.Create(rowOff + 2 * j) + even;
            Vector512<float> best = t00;
            Vector512<int> bi = i0;
            MaxStep(ref best, ref bi, t01, i0 + Vector512<int>.One);
            MaxStep(ref best, ref bi, t10, i0 + Vector512.Create(w));
            MaxStep(ref best, ref bi, t11, i0 + Vector512.Create(w + 1));
            best.Store(yr + j);
            bi.Store(yi + j);
        }
        return j;
    }

    /// <summary>
    /// Tables for 2×2 / stride 2 windows over whole planes with W = 2·OW, H = 2·OH and OW | 16: the planes are then
    /// one run of row pairs (a row pair = 4·OW floats: top row, bottom row) and 16 consecutive outputs read exactly
    /// 64 consecutive input floats. A block's four window corners are gathered by two levels of two-register
    /// permutes: the top (bottom) rows out of each 32 floats, then their even and odd elements.
    /// </summary>
    private readonly struct Flat2x2
    {
        /// <summary>Element k of the 16 top-row floats in 32 consecutive input floats (bottom rows: + 2·OW); OW &lt; 16.</summary>
        public readonly Vector512<int> Top, Bottom;
        /// <summary>Plane-local input index of output lane k's window corner, less 4·(block start mod plane).</summary>
        public readonly Vector512<int> Corner;
        /// <summary>Per input float m·16 + e of a block: the output lane whose window holds it, and its plane-local
        /// index less 4·(block start mod plane).</summary>
        public readonly Vector512<int> Owner0, Owner1, Owner2, Owner3, Pos0, Pos1, Pos2, Pos3;
        /// <summary>OW = 16: a block is one row pair, its top row the first 32 floats (no first-level permute).</summary>
        public readonly bool OneRowPair;

        /// <summary>Whether the flat layout applies: even H and W, OW and the plane's output count divide or are
        /// multiples of 16 (a block never straddles a plane boundary unevenly).</summary>
        public static bool Fits(int h, int w, int oh, int ow)
        {
            int plane = oh * ow;
            return w == 2 * ow && h == 2 * oh && ow <= 16 && 16 % ow == 0 && (plane % 16 == 0 || 16 % plane == 0);
        }

        public Flat2x2(int oh, int ow)
        {
            int plane = oh * ow;
            Span<int> top = stackalloc int[16], corner = stackalloc int[16], owner = stackalloc int[64], pos = stackalloc int[64];
            for (int k = 0; k < 16; k++)
            {
                top[k] = k / (2 * ow) * 4 * ow + k % (2 * ow);
                int ol = k % plane; // plane-local output (k itself when the plane holds 16 or more)
                corner[k] = ol / ow * 4 * ow + 2 * (ol % ow);
            }
            for (int e = 0; e < 64; e++)
            {
                int rowPair = e / (4 * ow), col = e % (4 * ow) % (2 * ow);
                owner[e] = rowPair * ow + col / 2;
                pos[e] = e % (4 * plane);
            }
            OneRowPair = ow == 16;
            Top = Vector512.Create<int>(top);
            Bottom = Top + Vector512.Create(2 * ow);
            Corner = Vector512.Create<int>(corner);
            Owner0 = Vector512.Create<int>(owner[..16]); Owner1 = Vector512.Create<int>(owner[16..32]);
            Owner2 = Vector512.Create<int>(owner[32..48]); Owner3 = Vector512.Create<int>(owner[48..]);
            Pos0 = Vector512.Create<int>(pos[..16]); Pos1 = Vector512.Create<int>(pos[16..32]);
            Pos2 = Vector512.Create<int>(pos[32..48]); Pos3 = Vector512.Create<int>(pos[48..]);
        }

        /// <summary>The four corners (top-left, top-right, bottom-left, bottom-right) of 16 windows from 64 floats.</summary>
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
        public void Corners(float* p, out Vector512<float> t00, out Vector512<float> t01, out Vector512<float> t10, out Vector512<float> t11)
        {
            Vector512<float> a = Vector512.Load(p), b = Vector512.Load(p + 16), c = Vector512.Load(p + 32), d = Vector512.Load(p + 48);
            Vector512<float> top0 = a, top1 = b, bot0 = c, bot1 = d;
            if (!OneRowPair)
            {
                top0 = Avx512F.PermuteVar16x32x2(a, Top, b); top1 = Avx512F.PermuteVar16x32x2(c, Top, d);
                bot0 = Avx512F.PermuteVar16x32x2(a, Bottom, b); bot1 = Avx512F.PermuteVar16x32x2(c, Bottom, d);
            }
            var even = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            var odd = even + Vector512<int>.One;
            t00 = Avx512F.PermuteVar16x32x2(top0, even, top1); t01 = Avx512F.PermuteVar16x32x2(top0, odd, top1);
            t10 = Avx512F.PermuteVar16x32x2(bot0, even, bot1); t11 = Avx512F.PermuteVar16x32x2(bot0, odd, bot1);
        }
    }

    /// <summary>
    /// MaxPool 2×2 over planes [p0, p1) in the <see cref="Flat2x2"/> layout, 16 outputs per step; returns the first
    /// plane left for the per-plane loop (the planes of a last partial block).
    /// </summary>
    private static int MaxPool2x2Flat512(float* x, float* y, int* idx, int p0, int p1, int h, int w, int oh, int ow)
    {
        int plane = oh * ow;
        long total = (long)(p1 - p0) * plane, blocks = total / 16;
        if (blocks == 0) return p0;
        var t = new Flat2x2(oh, ow);
        float* xs = x + (nint)p0 * h * w, ys = y + (nint)p0 * plane;
        int* ids = idx == null ? null : idx + (nint)p0 * plane;
        var one = Vector512<int>.One; var down = Vector512.Create(w); var downRight = Vector512.Create(w + 1);
        for (long blk = 0; blk < blocks; blk++)
        {
            long o = blk * 16;
            t.Corners(xs + 4 * o, out var t00, out var t01, out var t10, out var t11);
            if (ids == null)
            {
                MaxNan(MaxNan(t00, t01), MaxNan(t10, t11)).Store(ys + o);
                continue;
            }
            var i0 = Vector512.Create((int)(4 * (o % plane))) + t.Corner;
            Vector512<float> best = t00;
            Vector512<int> bi = i0;
            MaxStep(ref best, ref bi, t01, i0 + one);
            MaxStep(ref best, ref bi, t10, i0 + down);
            MaxStep(ref best, ref bi, t11, i0 + downRight);
            best.Store(ys + o);
            bi.Store(ids + o);
        }
        return p0 + (int)(blocks * 16 / plane);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void MaxStep(ref Vector512<float> best, ref Vector512<int> bi, Vector512<float> v, Vector512<int> vi)
    {
        var take = Avx512F.CompareGreaterThan(v, best) | Avx512F.CompareUnordered(v, v);
        best = Vector512.ConditionalSelect(take, v, best);
        bi = Vector512.ConditionalSelect(take.AsInt32(), vi, bi);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> MaxNan(Vector512<float> a, Vector512<float> b) =>
        Vector512.ConditionalSelect(Avx512F.CompareUnordered(a, b), a + b, Avx512F.Max(a, b));

    /// <summary>Elements 0, 2, …, 14 of the 16 floats a|b, in order.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Evens(Vector256<float> a, Vector256<float> b) =>
        System.Runtime.Intrinsics.X86.Avx2.Permute4x64(Avx.Shuffle(a, b, 0b10_00_10_00).AsDouble(), 0b11_01_10_00).AsSingle();

    /// <summary>Elements 1, 3, …, 15 of the 16 floats a|b, in order.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Odds(Vector256<float> a, Vector256<float> b) =>
        System.Runtime.Intrinsics.X86.Avx2.Permute4x64(Avx.Shuffle(a, b, 0b11_01_11_01).AsDouble(), 0b11_01_10_00).AsSingle();

    /// <summary>The scalar loop's step per lane: take v (and its index) if v &gt; best or v is NaN.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void MaxStep(ref Vector256<float> best, ref Vector256<int> bi, Vector256<float> v, Vector256<int> vi)
    {
        var take = Avx.Or(Avx.CompareGreaterThan(v, best), Avx.CompareUnordered(v, v));
        best = Avx.BlendVariable(best, v, take);
        bi = Avx.BlendVariable(bi.AsSingle(), vi.AsSingle(), take).AsInt32();
    }

    /// <summary>max(a, b), NaN where either is NaN (as the scalar rule).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> MaxNan(Vector256<float> a, Vector256<float> b) =>
        Avx.BlendVariable(Avx.Max(a, b), Avx.Add(a, b), Avx.CompareUnordered(a, b));

    /// <summary>MaxPool2d backward: gradInput (overwritten) receives each output gradient at its argmax.</summary>
    public static void MaxPool2dBackward(int n, int c, int h, int w, int outH, int outW,
        ReadOnlySpan<float> gradOutput, ReadOnlySpan<int> indices, Span<float> gradInput)
    {
        int planes = n * c, plane = h * w, oplane = outH * outW;
        CheckLength(gradOutput.Length, (long)planes * oplane, nameof(gradOutput));
        CheckLength(indices.Length, (long)planes * oplane, nameof(indices));
        CheckLength(gradInput.Length, (long)planes * plane, nameof(gradInput));
        fixed (float* pgo = gradOutput) fixed (int* pidx = indices) fixed (float* pgi = gradInput)
        {
            nint igo = (nint)pgo, ix = (nint)pidx, igi = (nint)pgi;
            bool flat = KernelIsa.UseAvx512 && Flat2x2.Fits(h, w, outH, outW);
            ForPlanes(planes, plane + oplane, (p0, p1) =>
            {
                // Non-overlapping 2×2 windows (checked per index): each input float is written once, no scatter.
                if (flat && MaxPool2x2BackwardFlat512((float*)igo, (int*)ix, (float*)igi, p0, p1, h, w, outH, outW)) return;
                new Span<float>((float*)igi + (nint)p0 * plane, (p1 - p0) * plane).Clear();
                for (int p = p0; p < p1; p++)
                {
                    float* gi = (float*)igi + (nint)p * plane;
                    float* go = (float*)igo + (nint)p * oplane;
                    int* idx = (int*)ix + (nint)p * oplane;
                    for (int o = 0; o < oplane; o++)
                    {
                        int t = idx[o];
                        if ((uint)t < (uint)plane) gi[t] += go[o];
                    }
                }
            });
        }
    }

    /// <summary>
    /// MaxPool backward over planes [p0, p1) in the <see cref="Flat2x2"/> layout when every index lies in its own
    /// output's 2×2 window (a 2×2 / stride 2 pool; anything else, e.g. 3×3 / stride 2 / pad 1 on even sizes, fails
    /// the check): every input float gets its window's gradient or zero, 64 per step. Returns false, with
    /// gradInput partly written, when the check fails or the planes do not fill whole blocks; the caller then runs
    /// the scatter, which rewrites it all.
    /// </summary>
    private static bool MaxPool2x2BackwardFlat512(float* go, int* idx, float* gi, int p0, int p1, int h, int w, int oh, int ow)
    {
        int plane = oh * ow;
        long total = (long)(p1 - p0) * plane;
        if (total % 16 != 0) return false;
        var t = new Flat2x2(oh, ow);
        float* gos = go + (nint)p0 * plane, gis = gi + (nint)p0 * h * w;
        int* ids = idx + (nint)p0 * plane;
        var one = Vector512<int>.One; var down = Vector512.Create(w); var downRight = Vector512.Create(w + 1);
        for (long o = 0; o < total; o += 16)
        {
            var g = Vector512.Load(gos + o) + Vector512<float>.Zero; // 0 + g, as the scatter's += on a cleared plane (-0 → +0)
            var id = Vector512.Load(ids + o);
            var baseIdx = Vector512.Create((int)(4 * (o % plane)));
            var d = id - (baseIdx + t.Corner);
            var inWindow = Vector512.Equals(d, Vector512<int>.Zero) | Vector512.Equals(d, one)
                | Vector512.Equals(d, down) | Vector512.Equals(d, downRight);
            if (!Vector512.EqualsAll(inWindow, Vector512<int>.AllBitsSet)) return false;
            float* dst = gis + 4 * o;
            Spread(g, id, baseIdx + t.Pos0, t.Owner0, dst);
            Spread(g, id, baseIdx + t.Pos1, t.Owner1, dst + 16);
            Spread(g, id, baseIdx + t.Pos2, t.Owner2, dst + 32);
            Spread(g, id, baseIdx + t.Pos3, t.Owner3, dst + 48);
        }
        return true;

        static void Spread(Vector512<float> g, Vector512<int> id, Vector512<int> pos, Vector512<int> owner, float* dst)
        {
            var hit = Vector512.Equals(Avx512F.PermuteVar16x32(id, owner), pos);
            Vector512.ConditionalSelect(hit.AsSingle(), Avx512F.PermuteVar16x32(g, owner), Vector512<float>.Zero).Store(dst);
        }
    }

    // ------------------------------------------------------------------ average pooling

    /// <summary>Divisor of output (i, j): full window (count_include_pad) or only its in-bounds part.</summary>
    private static int AvgDivisor(int hs, int ws, int kH, int kW, int h, int w, int pH, int pW, bool countIncludePad)
    {
        int he = Math.Min(hs + kH, h + pH), we = Math.Min(ws + kW, w + pW);
        if (countIncludePad) return (he - hs) * (we - ws);
        return (Math.Min(he, h) - Math.Max(hs, 0)) * (Math.Min(we, w) - Math.Max(ws, 0));
    }

    /// <summary>AvgPool2d forward (PyTorch default count_include_pad = true, ceil_mode = false).</summary>
    public static void AvgPool2dForward(int n, int c, int h, int w, int kH, int kW, int sH, int sW, int pH, int pW,
        ReadOnlySpan<float> input, Span<float> output, bool countIncludePad = true)
    {
        CheckWindow(h, w, kH, kW, sH, sW, pH, pW);
        int oh = OutputSize(h, kH, sH, pH), ow = OutputSize(w, kW, sW, pW);
        int planes = n * c;
        CheckLength(input.Length, (long)planes * h * w, nameof(input));
        CheckLength(output.Length, (long)planes * oh * ow, nameof(output));
        fixed (float* pin = input) fixed (float* pout = output)
        {
            nint ii = (nint)pin, io = (nint)pout;
            bool flat = kH == 2 && kW == 2 && sH == 2 && sW == 2 && pH == 0 && pW == 0
                && KernelIsa.UseAvx512 && Flat2x2.Fits(h, w, oh, ow);
            ForPlanes(planes, (long)oh * ow * kH * kW, (p0, p1) =>
            {
                // ResNet's option-A shortcut (2×2 / stride 2 on 32×32 and 16×16 maps): 16 windows per step.
                if (flat) p0 = AvgPool2x2Flat512((float*)ii, (float*)io, p0, p1, h, w, oh, ow);
                for (int p = p0; p < p1; p++)
                {
                    float* x = (float*)ii + (nint)p * h * w;
                    float* y = (float*)io + (nint)p * oh * ow;
                    for (int i = 0; i < oh; i++)
                    {
                        int hs = i * sH - pH;
                        int r0 = Math.Max(hs, 0), r1 = Math.Min(hs + kH, h);
                        for (int j = 0; j < ow; j++)
                        {
                            int ws = j * sW - pW;
                            int q0 = Math.Max(ws, 0), q1 = Math.Min(ws + kW, w);
                            float s = 0f;
                            for (int r = r0; r < r1; r++)
                                for (int q = q0; q < q1; q++) s += x[r * w + q];
                            y[i * ow + j] = s / AvgDivisor(hs, ws, kH, kW, h, w, pH, pW, countIncludePad);
                        }
                    }
                }
            });
        }
    }

    /// <summary>AvgPool2d backward; gradInput overwritten.</summary>
    public static void AvgPool2dBackward(int n, int c, int h, int w, int kH, int kW, int sH, int sW, int pH, int pW,
        ReadOnlySpan<float> gradOutput, Span<float> gradInput, bool countIncludePad = true)
    {
        CheckWindow(h, w, kH, kW, sH, sW, pH, pW);
        int oh = OutputSize(h, kH, sH, pH), ow = OutputSize(w, kW, sW, pW);
        int planes = n * c, plane = h * w;
        CheckLength(gradOutput.Length, (long)planes * oh * ow, nameof(gradOutput));
        CheckLength(gradInput.Length, (long)planes * plane, nameof(gradInput));
        fixed (float* pgo = gradOutput) fixed (float* pgi = gradInput)
        {
            nint igo = (nint)pgo, igi = (nint)pgi;
            bool flat = kH == 2 && kW == 2 && sH == 2 && sW == 2 && pH == 0 && pW == 0
                && KernelIsa.UseAvx512 && Flat2x2.Fits(h, w, oh, ow);
            ForPlanes(planes, (long)oh * ow * kH * kW, (p0, p1) =>
            {
                if (flat) p0 = AvgPool2x2BackwardFlat512((float*)igo, (float*)igi, p0, p1, h, w, oh, ow);
                new Span<float>((float*)igi + (nint)p0 * plane, (p1 - p0) * plane).Clear();
                for (int p = p0; p < p1; p++)
                {
                    float* gi = (float*)igi + (nint)p * plane;
                    float* go = (float*)igo + (nint)p * oh * ow;
                    for (int i = 0; i < oh; i++)
                    {
                        int hs = i * sH - pH;
                        int r0 = Math.Max(hs, 0), r1 = Math.Min(hs + kH, h);
                        for (int j = 0; j < ow; j++)
                        {
                            int ws = j * sW - pW;
                            int q0 = Math.Max(ws, 0), q1 = Math.Min(ws + kW, w);
                            float g = go[i * ow + j] / AvgDivisor(hs, ws, kH, kW, h, w, pH, pW, countIncludePad);
                            for (int r = r0; r < r1; r++)
                                for (int q = q0; q < q1; q++) gi[r * w + q] += g;
                        }
                    }
                }
            });
        }
    }

    /// <summary>
    /// AvgPool 2×2 / stride 2 over planes [p0, p1) in the <see cref="Flat2x2"/> layout: the scalar loop's sum
    /// ((0 + x00) + x01) + x10) + x11 and division by 4, 16 windows per step. Returns the first plane left over.
    /// </summary>
    private static int AvgPool2x2Flat512(float* x, float* y, int p0, int p1, int h, int w, int oh, int ow)
    {
        int plane = oh * ow;
        long blocks = (long)(p1 - p0) * plane / 16;
        if (blocks == 0) return p0;
        var t = new Flat2x2(oh, ow);
        float* xs = x + (nint)p0 * h * w, ys = y + (nint)p0 * plane;
        var four = Vector512.Create(4f);
        for (long o = 0; o < blocks * 16; o += 16)
        {
            t.Corners(xs + 4 * o, out var t00, out var t01, out var t10, out var t11);
            ((((Vector512<float>.Zero + t00) + t01) + t10 + t11) / four).Store(ys + o);
        }
        return p0 + (int)(blocks * 16 / plane);
    }

    /// <summary>
    /// AvgPool 2×2 / stride 2 backward in the <see cref="Flat2x2"/> layout: each input float is 0 + g/4 of its one
    /// window (the scalar loop's cleared plane plus one contribution), 64 per step. Returns the first plane left.
    /// </summary>
    private static int AvgPool2x2BackwardFlat512(float* go, float* gi, int p0, int p1, int h, int w, int oh, int ow)
    {
        int plane = oh * ow;
        long blocks = (long)(p1 - p0) * plane / 16;
        if (blocks == 0) return p0;
        var t = new Flat2x2(oh, ow);
        float* gos = go + (nint)p0 * plane, gis = gi + (nint)p0 * h * w;
        var four = Vector512.Create(4f);
        for (long o = 0; o < blocks * 16; o += 16)
        {
            var g = Vector512<float>.Zero + Vector512.Load(gos + o) / four;
            float* dst = gis + 4 * o;
            Avx512F.PermuteVar16x32(g, t.Owner0).Store(dst);
            Avx512F.PermuteVar16x32(g, t.Owner1).Store(dst + 16);
            Avx512F.PermuteVar16x32(g, t.Owner2).Store(dst + 32);
            Avx512F.PermuteVar16x32(g, t.Owner3).Store(dst + 48);
        }
        return p0 + (int)(blocks * 16 / plane);
    }

    // ------------------------------------------------------------------ adaptive average pooling

    /// <summary>PyTorch bins: [floor(i·size/out), ceil((i+1)·size/out)).</summary>
    private static int BinStart(int i, int size, int outSize) => (int)((long)i * size / outSize);
    private static int BinEnd(int i, int size, int outSize) => (int)(((long)(i + 1) * size + outSize - 1) / outSize);

    public static void AdaptiveAvgPool2dForward(int n, int c, int h, int w, int outH, int outW,
        ReadOnlySpan<float> input, Span<float> output)
    {
        if (outH <= 0 || outW <= 0 || h <= 0 || w <= 0) throw new ArgumentException("Invalid adaptive pooling geometry.");
        int planes = n * c;
        CheckLength(input.Length, (long)planes * h * w, nameof(input));
        CheckLength(output.Length, (long)planes * outH * outW, nameof(output));
        fixed (float* pin = input) fixed (float* pout = output)
        {
            nint ii = (nint)pin, io = (nint)pout;
            ForPlanes(planes, (long)h * w + outH * outW, (p0, p1) =>
            {
                for (int p = p0; p < p1; p++)
                {
                    float* x = (float*)ii + (nint)p * h * w;
                    float* y = (float*)io + (nint)p * outH * outW;
                    for (int i = 0; i < outH; i++)
                    {
                        int r0 = BinStart(i, h, outH), r1 = BinEnd(i, h, outH);
                        for (int j = 0; j < outW; j++)
                        {
                            int q0 = BinStart(j, w, outW), q1 = BinEnd(j, w, outW);
                            float s = 0f;
                            for (int r = r0; r < r1; r++)
                                for (int q = q0; q < q1; q++) s += x[r * w + q];
                            y[i * outW + j] = s / ((r1 - r0) * (q1 - q0));
                        }
                    }
                }
            });
        }
    }

    /// <summary>AdaptiveAvgPool2d backward; gradInput overwritten.</summary>
    public static void AdaptiveAvgPool2dBackward(int n, int c, int h, int w, int outH, int outW,
        ReadOnlySpan<float> gradOutput, Span<float> gradInput)
    {
        if (outH <= 0 || outW <= 0 || h <= 0 || w <= 0) throw new ArgumentException("Invalid adaptive pooling geometry.");
        int planes = n * c, plane = h * w;
        CheckLength(gradOutput.Length, (long)planes * outH * outW, nameof(gradOutput));
        CheckLength(gradInput.Length, (long)planes * plane, nameof(gradInput));
        fixed (float* pgo = gradOutput) fixed (float* pgi = gradInput)
        {
            nint igo = (nint)pgo, igi = (nint)pgi;
            ForPlanes(planes, (long)plane + outH * outW, (p0, p1) =>
            {
                new Span<float>((float*)igi + (nint)p0 * plane, (p1 - p0) * plane).Clear();
                for (int p = p0; p < p1; p++)
                {
                    float* gi = (float*)igi + (nint)p * plane;
                    float* go = (float*)igo + (nint)p * outH * outW;
                    for (int i = 0; i < outH; i++)
                    {
                        int r0 = BinStart(i, h, outH), r1 = BinEnd(i, h, outH);
                        for (int j = 0; j < outW; j++)
                        {
                            int q0 = BinStart(j, w, outW), q1 = BinEnd(j, w, outW);
                            float g = go[i * outW + j] / ((r1 - r0) * (q1 - q0));
                            for (int r = r0; r < r1; r++)
                                for (int q = q0; q < q1; q++) gi[r * w + q] += g;
                        }
                    }
                }
            });
        }
    }
}
