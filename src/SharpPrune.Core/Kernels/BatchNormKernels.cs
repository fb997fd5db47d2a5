using System.Numerics;
using System.Runtime.Intrinsics;

namespace SharpPrune.Kernels;

/// <summary>
/// Batch normalisation over an N×C×L layout (L = H·W for BatchNorm2d, 1 for BatchNorm1d on N×C), PyTorch
/// semantics. Per-channel statistics are accumulated in double. weight/bias may be empty (affine = false);
/// runningMean/runningVar may be empty (track_running_stats = false).
/// </summary>
public static unsafe class BatchNormKernels
{
    private const long ParallelElements = 1 << 15;

    private static void ForChannels(int n, int c, int l, Action<int> body)
    {
        if ((long)n * c * l >= ParallelElements) Parallelism.For(0, c, body);
        else for (int ch = 0; ch < c; ch++) body(ch);
    }

    private static void Check(int n, int c, int l, int inputLength)
    {
        if (n < 0 || c <= 0 || l <= 0) throw new ArgumentException($"Invalid batch-norm shape N={n} C={c} L={l}.");
        if (inputLength < (long)n * c * l) throw new ArgumentException($"Input of {inputLength} elements, {(long)n * c * l} required.");
    }

    private static void CheckResidual(int n, int c, int l, ReadOnlySpan<float> residual)
    {
        if (!residual.IsEmpty && residual.Length < (long)n * c * l)
            throw new ArgumentException($"Residual of {residual.Length} elements, {(long)n * c * l} required.", nameof(residual));
    }

    private static void CheckPerChannel(int length, int c, string name, bool optional)
    {
        if (optional && length == 0) return;
        if (length < c) throw new ArgumentException($"{name} has {length} elements, {c} required.", name);
    }

    /// <summary>
    /// Training-mode forward: batch mean and biased variance per channel, y = (x − mean)·invstd·w + b.
    /// Writes saveMean/saveInvStd (for backward) and updates the running stats in place with the unbiased variance:
    /// running = (1 − momentum)·running + momentum·batchStat.
    /// </summary>
    public static void ForwardTraining(int n, int c, int l, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, Span<float> saveMean, Span<float> saveInvStd,
        Span<float> runningMean, Span<float> runningVar, double momentum, double eps,
        ReadOnlySpan<float> residual = default, bool relu = false)
    {
        Check(n, c, l, input.Length);
        CheckResidual(n, c, l, residual);
        long count = (long)n * l;
        if (count <= 1) throw new ArgumentException("Expected more than 1 value per channel when training.");
        if (output.Length < (long)n * c * l) throw new ArgumentException("Output too small.", nameof(output));
        CheckPerChannel(weight.Length, c, nameof(weight), true);
        CheckPerChannel(bias.Length, c, nameof(bias), true);
        CheckPerChannel(saveMean.Length, c, nameof(saveMean), false);
        CheckPerChannel(saveInvStd.Length, c, nameof(saveInvStd), false);
        CheckPerChannel(runningMean.Length, c, nameof(runningMean), true);
        CheckPerChannel(runningVar.Length, c, nameof(runningVar), true);

        fixed (float* px = input) fixed (float* pw = weight) fixed (float* pb = bias) fixed (float* py = output)
        fixed (float* psm = saveMean) fixed (float* psi = saveInvStd) fixed (float* prm = runningMean) fixed (float* prv = runningVar)
        fixed (float* pr = residual)
        {
            nint ix = (nint)px, iw = weight.IsEmpty ? 0 : (nint)pw, ib = bias.IsEmpty ? 0 : (nint)pb, iy = (nint)py;
            nint ir = residual.IsEmpty ? 0 : (nint)pr;
            nint ism = (nint)psm, isi = (nint)psi, irm = runningMean.IsEmpty ? 0 : (nint)prm, irv = runningVar.IsEmpty ? 0 : (nint)prv;
            ForChannels(n, c, l, ch =>
            {
                float* x = (float*)ix;
                nint stride = (nint)c * l;
                // One pass over the data: sums of (x − K) and (x − K)² in double with K = the channel's first value,
                // so the variance does not suffer the cancellation of the unshifted formula.
                float k0 = x[(nint)ch * l];
                double s1 = 0, s2 = 0;
                for (int b = 0; b < n; b++)
                {
                    var (a, q) = ShiftedSums(x + b * stride + (nint)ch * l, l, k0);
                    s1 += a; s2 += q;
                }
                double d = s1 / count;
                double mean = k0 + d;
                double var = Math.Max(0, s2 / count - d * d);
                double invstd = 1.0 / Math.Sqrt(var + eps);
                ((float*)ism)[ch] = (float)mean;
                ((float*)isi)[ch] = (float)invstd;
                if (irm != 0) ((float*)irm)[ch] = (float)((1 - momentum) * ((float*)irm)[ch] + momentum * mean);
                if (irv != 0) ((float*)irv)[ch] = (float)((1 - momentum) * ((float*)irv)[ch] + momentum * var * count / (count - 1));

                double w = iw != 0 ? ((float*)iw)[ch] : 1.0, bb = ib != 0 ? ((float*)ib)[ch] : 0.0;
                float scale = (float)(invstd * w), shift = (float)(bb - mean * invstd * w);
                for (int b = 0; b < n; b++)
                {
                    nint off = b * stride + (nint)ch * l;
                    AffineAddRelu(x + off, ir == 0 ? null : (float*)ir + off, (float*)iy + off, l, scale, shift, relu);
                }
            });
        }
    }

    /// <summary>Eval-mode forward with the running statistics.</summary>
    public static void ForwardInference(int n, int c, int l, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, double eps, Span<float> output,
        ReadOnlySpan<float> residual = default, bool relu = false)
    {
        Check(n, c, l, input.Length);
        CheckResidual(n, c, l, residual);
        if (output.Length < (long)n * c * l) throw new ArgumentException("Output too small.", nameof(output));
        CheckPerChannel(weight.Length, c, nameof(weight), true);
        CheckPerChannel(bias.Length, c, nameof(bias), true);
        CheckPerChannel(runningMean.Length, c, nameof(runningMean), false);
        CheckPerChannel(runningVar.Length, c, nameof(runningVar), false);
        fixed (float* px = input) fixed (float* pw = weight) fixed (float* pb = bias) fixed (float* py = output)
        fixed (float* prm = runningMean) fixed (float* prv = runningVar) fixed (float* pr = residual)
        {
            nint ix = (nint)px, iw = weight.IsEmpty ? 0 : (nint)pw, ib = bias.IsEmpty ? 0 : (nint)pb, iy = (nint)py;
            nint irm = (nint)prm, irv = (nint)prv, ir = residual.IsEmpty ? 0 : (nint)pr;
            ForChannels(n, c, l, ch =>
            {
                double invstd = 1.0 / Math.Sqrt(((float*)irv)[ch] + eps);
                double w = iw != 0 ? ((float*)iw)[ch] : 1.0, bb = ib != 0 ? ((float*)ib)[ch] : 0.0;
                float scale = (float)(invstd * w), shift = (float)(bb - ((float*)irm)[ch] * invstd * w);
                nint stride = (nint)c * l;
                for (int b = 0; b < n; b++)
                {
                    nint off = b * stride + (nint)ch * l;
                    AffineAddRelu((float*)ix + off, ir == 0 ? null : (float*)ir + off, (float*)iy + off, l, scale, shift, relu);
                }
            });
        }
    }

    /// <summary>
    /// Training-mode backward using saveMean/saveInvStd from <see cref="ForwardTraining"/>:
    /// gradBias = Σdy, gradWeight = Σdy·x̂, gradInput = w·invstd·(dy − mean(dy) − x̂·mean(dy·x̂)).
    /// All outputs are overwritten; any of them may be empty to skip it.
    /// </summary>
    public static void BackwardTraining(int n, int c, int l, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> saveMean, ReadOnlySpan<float> saveInvStd,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias)
        => Backward(n, c, l, input, gradOutput, weight, saveMean, saveInvStd, default, default, 0, training: true,
            gradInput, gradWeight, gradBias);

    /// <summary>Eval-mode backward (statistics are constants): gradInput = dy·w/√(runningVar + eps).</summary>
    public static void BackwardInference(int n, int c, int l, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, double eps,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias)
        => Backward(n, c, l, input, gradOutput, weight, default, default, runningMean, runningVar, eps, training: false,
            gradInput, gradWeight, gradBias);

    private static void Backward(int n, int c, int l, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput,
        ReadOnlySpan<float> weight, ReadOnlySpan<float> saveMean, ReadOnlySpan<float> saveInvStd,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVar, double eps, bool training,
        Span<float> gradInput, Span<float> gradWeight, Span<float> gradBias)
    {
        Check(n, c, l, input.Length);
        long total = (long)n * c * l, count = (long)n * l;
        if (gradOutput.Length < total) throw new ArgumentException("gradOutput too small.", nameof(gradOutput));
        if (!gradInput.IsEmpty && gradInput.Length < total) throw new ArgumentException("gradInput too small.", nameof(gradInput));
        CheckPerChannel(weight.Length, c, nameof(weight), true);
        CheckPerChannel(gradWeight.Length, c, nameof(gradWeight), true);
        CheckPerChannel(gradBias.Length, c, nameof(gradBias), true);
        CheckPerChannel((training ? saveMean : runningMean).Length, c, "mean", false);
        CheckPerChannel((training ? saveInvStd : runningVar).Length, c, training ? "invstd" : "var", false);

        fixed (float* px = input) fixed (float* pgo = gradOutput) fixed (float* pw = weight)
        fixed (float* pm = training ? saveMean : runningMean) fixed (float* ps = training ? saveInvStd : runningVar)
        fixed (float* pgi = gradInput) fixed (float* pgw = gradWeight) fixed (float* pgb = gradBias)
        {
            nint ix = (nint)px, igo = (nint)pgo, iw = weight.IsEmpty ? 0 : (nint)pw, im = (nint)pm, istat = (nint)ps;
            nint igi = gradInput.IsEmpty ? 0 : (nint)pgi, igw = gradWeight.IsEmpty ? 0 : (nint)pgw, igb = gradBias.IsEmpty ? 0 : (nint)pgb;
            if (l >= RowOrderBelow)
            {
                // Large maps: one channel at a time, so the dx pass re-reads the channel's rows from cache.
                ForChannels(n, c, l, ch =>
                {
                    nint stride = (nint)c * l, off = (nint)ch * l;
                    float* x = (float*)ix + off, dy = (float*)igo + off;
                    float mean = ((float*)im)[ch];
                    double invstd = training ? ((float*)istat)[ch] : 1.0 / Math.Sqrt(((float*)istat)[ch] + eps);
                    double sumDy = 0, sumDyXmu = 0;
                    for (int b = 0; b < n; b++)
                    {
                        var (s, d) = SumAndDot(dy + b * stride, x + b * stride, l, mean);
                        sumDy += s; sumDyXmu += d;
                    }
                    if (igb != 0) ((float*)igb)[ch] = (float)sumDy;
                    if (igw != 0) ((float*)igw)[ch] = (float)(sumDyXmu * invstd);
                    if (igi == 0) return;

                    double w = iw != 0 ? ((float*)iw)[ch] : 1.0;
                    float* dx = (float*)igi + off;
                    if (training)
                    {
                        // dx = ((dy − meanDy) − (x − mean)·k)·invstd·w with k = Σdy(x−mean)·invstd²/count
                        float meanDy = (float)(sumDy / count), k = (float)(sumDyXmu * invstd * invstd / count);
                        float gain = (float)(invstd * w);
                        bool avx2 = KernelIsa.UseAvx2;
                        for (int b = 0; b < n; b++)
                            TrainingGradInput(dy + b * stride, x + b * stride, dx + b * stride, l, mean, meanDy, k, gain, avx2);
                    }
                    else
                    {
                        float gain = (float)(invstd * w);
                        for (int b = 0; b < n; b++)
                            System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(dy + b * stride, l), gain,
                                new Span<float>(dx + b * stride, l));
                    }
                });
                return;
            }
            // Rows (b, ch) of L floats are visited in memory order, split across threads: a channel-major walk
            // jumps C·L floats between rows, which the hardware prefetchers do not follow, and on small maps
            // (VGG's 256@8×8) stalled on every row (4.0 ms for 4 MB single-threaded; a copy takes 0.4 ms).
            // Per-row sums are kept and reduced per channel in batch order, the summation order of a channel walk.
            int rows = n * c;
            double[] rowSums = System.Buffers.ArrayPool<double>.Shared.Rent(Math.Max(1, 2 * rows));
            float[] coef = System.Buffers.ArrayPool<float>.Shared.Rent(3 * c);
            try
            {
                ForRows(rows, l, (r0, r1) =>
                {
                    for (int r = r0; r < r1; r++)
                    {
                        nint off = (nint)r * l;
                        var (sDy, sDot) = SumAndDot((float*)igo + off, (float*)ix + off, l, ((float*)im)[r % c]);
                        rowSums[2 * r] = sDy; rowSums[2 * r + 1] = sDot;
                    }
                });
                for (int ch = 0; ch < c; ch++)
                {
                    double sumDy = 0, sumDyXmu = 0;
                    for (int b = 0; b < n; b++) { sumDy += rowSums[2 * (b * c + ch)]; sumDyXmu += rowSums[2 * (b * c + ch) + 1]; }
                    double invstd = training ? ((float*)istat)[ch] : 1.0 / Math.Sqrt(((float*)istat)[ch] + eps);
                    if (igb != 0) ((float*)igb)[ch] = (float)sumDy;
                    if (igw != 0) ((float*)igw)[ch] = (float)(sumDyXmu * invstd);
                    double w = iw != 0 ? ((float*)iw)[ch] : 1.0;
                    // dx = ((dy − meanDy) − (x − mean)·k)·invstd·w with k = Σdy(x−mean)·invstd²/count (training)
                    coef[3 * ch] = training ? (float)(sumDy / count) : 0f;
                    coef[3 * ch + 1] = training ? (float)(sumDyXmu * invstd * invstd / count) : 0f;
                    coef[3 * ch + 2] = (float)(invstd * w);
                }
                if (igi == 0) return;
                ForRows(rows, l, (r0, r1) =>
                {
                    bool avx2 = KernelIsa.UseAvx2;
                    for (int r = r0; r < r1; r++)
                    {
                        int ch = r % c;
                        nint off = (nint)r * l;
                        float* dy = (float*)igo + off, dx = (float*)igi + off;
                        float gain = coef[3 * ch + 2];
                        if (training)
                            TrainingGradInput(dy, (float*)ix + off, dx, l, ((float*)im)[ch], coef[3 * ch], coef[3 * ch + 1], gain, avx2);
                        else
                            System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<float>(dy, l), gain, new Span<float>(dx, l));
                    }
                });
            }
            finally
            {
                System.Buffers.ArrayPool<double>.Shared.Return(rowSums);
                System.Buffers.ArrayPool<float>.Shared.Return(coef);
            }
        }
    }

    /// <summary>
    /// Maps below this many pixels take the row-order backward. Single thread, CPU time, N = 64: C·L = 256·64
    /// 4.0 → 1.5 ms, 64·64 0.42 → 0.27, 32·256 0.76 → 0.60; 16·1024 1.2 → 1.6 (the channel walk's second pass
    /// hits cache there).
    /// </summary>
    private const int RowOrderBelow = 512;

    /// <summary>body(r0, r1) over rows [0, rows) of <paramref name="l"/> floats: contiguous ranges, one per thread when large.</summary>
    private static void ForRows(int rows, int l, Action<int, int> body)
    {
        if ((long)rows * l >= ParallelElements) Parallelism.ForRanges(rows, Parallelism.AvailableThreads, (_, r0, r1) => body(r0, r1));
        else body(0, rows);
    }

    // ------------------------------------------------------------------ vector helpers

    /// <summary>(Σ(x − k), Σ(x − k)²) in double.</summary>
    private static (double sum, double sumSq) ShiftedSums(float* x, int len, float k)
    {
        int i = 0;
        double s = 0, q = 0;
        if (KernelIsa.UseAvx512 && len >= 16)
        {
            // 16 floats per step: twice the independent double accumulations of the AVX2 loop (latency-bound).
            Vector512<double> s0 = default, s1 = default, q0 = default, q1 = default;
            Vector512<float> vk = Vector512.Create(k);
            for (; i + 16 <= len; i += 16)
            {
                var (lo, hi) = Vector512.Widen(Vector512.Load(x + i) - vk);
                s0 += lo; s1 += hi; q0 += lo * lo; q1 += hi * hi;
            }
            s = Vector512.Sum(s0 + s1); q = Vector512.Sum(q0 + q1);
        }
        else if (Vector256.IsHardwareAccelerated && len >= 8)
        {
            Vector256<double> s0 = default, s1 = default, q0 = default, q1 = default;
            Vector256<float> vk = Vector256.Create(k);
            for (; i + 8 <= len; i += 8)
            {
                var (lo, hi) = Vector256.Widen(Vector256.Load(x + i) - vk);
                s0 += lo; s1 += hi; q0 += lo * lo; q1 += hi * hi;
            }
            s = Vector256.Sum(s0 + s1); q = Vector256.Sum(q0 + q1);
        }
        for (; i < len; i++) { double d = x[i] - k; s += d; q += d * d; }
        return (s, q);
    }

    /// <summary>(Σdy, Σdy·(x − mean)) in double.</summary>
    private static (double sum, double dot) SumAndDot(float* dy, float* x, int len, float mean)
    {
        int i = 0;
        double s = 0, d = 0;
        if (Vector256.IsHardwareAccelerated && len >= 8)
        {
            Vector256<double> s0 = Vector256<double>.Zero, s1 = Vector256<double>.Zero, d0 = Vector256<double>.Zero, d1 = Vector256<double>.Zero;
            Vector256<float> vm = Vector256.Create(mean);
            for (; i + 8 <= len; i += 8)
            {
                var (glo, ghi) = Vector256.Widen(Vector256.Load(dy + i));
                var (xlo, xhi) = Vector256.Widen(Vector256.Load(x + i) - vm);
                s0 += glo; s1 += ghi; d0 += glo * xlo; d1 += ghi * xhi;
            }
            s = Vector256.Sum(s0 + s1); d = Vector256.Sum(d0 + d1);
        }
        for (; i < len; i++) { double g = dy[i]; s += g; d += g * (x[i] - mean); }
        return (s, d);
    }

    /// <summary>y = x·scale + shift.</summary>
    internal static void Affine(float* x, float* y, int len, float scale, float shift)
    {
        int i = 0;
        // One read of the ISA per call: this runs once per N·C row, and a second thread-static read per row cost
        // ~10 % on VGG's 256@8×8 maps.
        CpuIsa isa = KernelIsa.Active;
        if (isa >= CpuIsa.Avx512)
        {
            // One fused multiply-add per element, as below: the same result at twice the width.
            var ws = Vector512.Create(scale); var wb = Vector512.Create(shift);
            for (; i + 16 <= len; i += 16)
                Vector512.FusedMultiplyAdd(Vector512.Load(x + i), ws, wb).Store(y + i);
        }
        if (isa >= CpuIsa.Avx2)
        {
            // After the 512-bit loop: a plane's remaining 8..15 floats.
            var vs = Vector256.Create(scale); var vb = Vector256.Create(shift);
            for (; i + 8 <= len; i += 8)
                Vector256.FusedMultiplyAdd(Vector256.Load(x + i), vs, vb).Store(y + i);
        }
        else
        {
            // Portable: fused where the hardware has FMA (x64 with FMA3, every Arm64), as the tail below.
            var vs = Vector128.Create(scale); var vb = Vector128.Create(shift);
            for (; i + 4 <= len; i += 4)
                Vector128.MultiplyAddEstimate(Vector128.Load(x + i), vs, vb).Store(y + i);
        }
        // The tail fused too, so every element rounds once wherever a plane's length puts it (the direct convolution's
        // store applies the same fused multiply-add to all of its pixels).
        for (; i < len; i++) y[i] = MathF.FusedMultiplyAdd(x[i], scale, shift);
    }

    /// <param name="avx2">KernelIsa.UseAvx2, read once by the caller for all its rows.</param>
    private static void TrainingGradInput(float* dy, float* x, float* dx, int len, float mean, float meanDy, float k, float gain, bool avx2)
    {
        int i = 0;
        // Unfused multiplies on every path, so each width rounds like the scalar tail. 256 bits also under AVX-512:
        // a Vector512 loop was not faster (memory-bound; Zen 5, single thread).
        if (avx2)
        {
            var vm = Vector256.Create(mean); var vmd = Vector256.Create(meanDy); var vk = Vector256.Create(k); var vg = Vector256.Create(gain);
            for (; i + 8 <= len; i += 8)
            {
                var g = Vector256.Load(dy + i); var xv = Vector256.Load(x + i);
                (((g - vmd) - (xv - vm) * vk) * vg).Store(dx + i);
            }
        }
        else
        {
            var vm = Vector128.Create(mean); var vmd = Vector128.Create(meanDy); var vk = Vector128.Create(k); var vg = Vector128.Create(gain);
            for (; i + 4 <= len; i += 4)
            {
                var g = Vector128.Load(dy + i); var xv = Vector128.Load(x + i);
                (((g - vmd) - (xv - vm) * vk) * vg).Store(dx + i);
            }
        }
        for (; i < len; i++) dx[i] = ((dy[i] - meanDy) - (x[i] - mean) * k) * gain;
    }

    // ------------------------------------------------------------------ fused tail (batch norm → add → ReLU)

    /// <summary>Floats per block of <see cref="AffineAddRelu"/>: its output is still in L1 for the second step.</summary>
    private const int FusedBlock = 256;

    /// <summary>
    /// y = relu(x·scale + shift + r) (r and the ReLU optional) in one pass over memory, each element exactly what
    /// <see cref="Affine"/>, then an add, then max(·, 0) give: a block is mapped by <see cref="Affine"/> itself, then
    /// the add and the ReLU run over it while it is in L1. The ReLU is IEEE maximum with 0, as
    /// <see cref="ElementwiseKernels.Relu"/>: NaN stays NaN, −0 becomes +0.
    /// </summary>
    internal static void AffineAddRelu(float* x, float* r, float* y, int len, float scale, float shift, bool relu)
    {
        if (r == null && !relu) { Affine(x, y, len, scale, shift); return; }
        for (int b = 0; b < len; b += FusedBlock)
        {
            int m = Math.Min(FusedBlock, len - b);
            Affine(x + b, y + b, m, scale, shift);
            AddRelu(y + b, r == null ? null : r + b, m, relu);
        }
    }

    /// <summary>y = relu(y + r) in place (either step optional).</summary>
    private static void AddRelu(float* y, float* r, int len, bool relu)
    {
        int i = 0;
        if (KernelIsa.UseAvx512)
        {
            for (; i + 16 <= len; i += 16)
            {
                var v = Vector512.Load(y + i);
                if (r != null) v += Vector512.Load(r + i);
                if (relu) v = Vector512.Max(v, Vector512<float>.Zero);
                v.Store(y + i);
            }
        }
        else if (KernelIsa.UseAvx2)
        {
            for (; i + 8 <= len; i += 8)
            {
                var v = Vector256.Load(y + i);
                if (r != null) v += Vector256.Load(r + i);
                if (relu) v = Vector256.Max(v, Vector256<float>.Zero);
                v.Store(y + i);
            }
        }
        else if (Vector128.IsHardwareAccelerated)
        {
            for (; i + 4 <= len; i += 4)
            {
                var v = Vector128.Load(y + i);
                if (r != null) v += Vector128.Load(r + i);
                if (relu) v = Vector128.Max(v, Vector128<float>.Zero);
                v.Store(y + i);
            }
        }
        for (; i < len; i++)
        {
            float v = y[i];
            if (r != null) v += r[i];
            y[i] = relu ? Math.Max(v, 0f) : v;
        }
    }
}
