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
            ForPlanes(planes, (long)oh * ow * kH * kW, (p0, p1) =>
            {
                for (int p = p0; p < p1; p++)
                {
                    float* x = (float*)ii + (nint)p * h * w;
                    float* y = (float*)io + (nint)p * oh * ow;
                    int* idx = writeIdx ? (int*)ix + (nint)p * oh * ow : null;
                    if (kH == 2 && kW == 2 && sH == 2 && sW == 2 && pH == 0 && pW == 0)
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
        bool avx2 = KernelIsa.UseAvx2;
        for (int i = 0; i < oh; i++)
        {
            float* r0 = x + (nint)2 * i * w, r1 = r0 + w;
            float* yr = y + (nint)i * ow;
            int j = 0;
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
            ForPlanes(planes, plane + oplane, (p0, p1) =>
            {
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
            ForPlanes(planes, (long)oh * ow * kH * kW, (p0, p1) =>
            {
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
            ForPlanes(planes, (long)oh * ow * kH * kW, (p0, p1) =>
            {
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
