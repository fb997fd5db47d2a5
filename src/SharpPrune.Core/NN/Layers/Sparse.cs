using SharpPrune.Autograd;
using SharpPrune.Kernels;

namespace SharpPrune.NN;

/// <summary>
/// Inference-only Linear with a pruned (sparse) weight in CSR form. Per call it runs the sparse kernel or, when
/// <see cref="SparseCrossover"/> says the dense GEMM is faster for that many rows, the dense weight it also keeps
/// (only kept when some batch size would prefer it). No gradient flows: calling it on a tensor that requires grad
/// with grad mode on throws.
/// </summary>
public sealed class SparseLinear : Module
{
    protected override bool MayRetainTensors => false;
    public CsrMatrix Weight { get; }
    private readonly Tensor? _dense;

    public int InFeatures => Weight.Cols;
    public int OutFeatures => Weight.Rows;

    /// <summary>
    /// From the effective (masked) weight (out, in) and bias. With <paramref name="alwaysSparse"/> every call runs the
    /// sparse kernel (tests, crossover measurements); otherwise calls with a batch for which
    /// <see cref="SparseCrossover"/> prefers dense run the dense GEMM.
    /// </summary>
    public SparseLinear(Tensor weight, Tensor? bias, bool alwaysSparse = false)
    {
        if (weight.Dim != 2) throw new ArgumentException($"SparseLinear: weight must be 2-D, got {Shapes.Format(weight.Shape)}");
        Weight = CsrMatrix.FromDense(weight.Data, weight.Size(0), weight.Size(1));
        RegisterBuffer("bias", bias?.Detach().Clone());
        if (!alwaysSparse && SparseCrossover.LinearChoices(Weight.Density, InFeatures, OutFeatures).Dense) _dense = weight.Detach().Clone();
    }

    protected override Tensor ForwardCore(Tensor input) => Compute(input, relu: false);

    /// <summary>
    /// The layer's output, with <paramref name="relu"/> also max(·, 0) applied as it is stored: what a container
    /// runs for SparseLinear → ReLU under no-grad when neither has hooks (<see cref="Container"/>), exactly the two
    /// modules' result.
    /// </summary>
    internal Tensor Compute(Tensor input, bool relu)
    {
        SparseModules.CheckNoGrad(this, input);
        if (input.Dim < 1 || input.Size(-1) != InFeatures)
            throw new ArgumentException($"SparseLinear: input shape {Shapes.Format(input.Shape)} does not match in_features {InFeatures}");
        var bias = GetOptional("bias");
        int rows = input.Numel / Math.Max(1, InFeatures);
        if (_dense != null && !SparseCrossover.LinearPrefersSparse(Weight.Density, rows, InFeatures, OutFeatures))
            using (GradMode.NoGrad())
            {
                var d = F.Linear(input, _dense, bias);
                return relu ? d.Relu_() : d;
            }
        var shape = input.ShapeCopy(); shape[^1] = OutFeatures;
        var y = Tensor.Empty(shape);
        SparseKernels.LinearForward(Weight, input.Data, rows, y.Data, bias == null ? default : bias.Data, relu);
        return y;
    }

    public override string ExtraRepr() =>
        $"in_features={InFeatures}, out_features={OutFeatures}, nnz={Weight.NonZeros} ({100 * Weight.Density:F1}%)";
}

/// <summary>
/// Inference-only Conv2d (groups 1) with a pruned weight in CSR form (out channels × in·kh·kw): the images are
/// unfolded (im2col) and multiplied by the sparse weight, or run dense when <see cref="SparseCrossover"/> says so
/// for the call's batch × output size.
/// </summary>
public sealed class SparseConv2d : Module
{
    protected override bool MayRetainTensors => false;
    public CsrMatrix Weight { get; }
    public int InChannels { get; }
    public int OutChannels { get; }
    public (int H, int W) KernelSize { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    public (int H, int W) Dilation { get; }
    private readonly Tensor? _dense;

    /// <summary>From the convolution's geometry, its effective (masked) weight and bias; <paramref name="alwaysSparse"/> as for <see cref="SparseLinear"/>.</summary>
    public SparseConv2d(Conv2d conv, Tensor weight, Tensor? bias, bool alwaysSparse = false)
    {
        if (conv.Groups != 1) throw new ArgumentException("SparseConv2d: grouped convolutions are not supported; keep the layer dense");
        if (!Shapes.Equal(weight.Shape, new[] { conv.OutChannels, conv.InChannels, conv.KernelSize.H, conv.KernelSize.W }))
            throw new ArgumentException($"SparseConv2d: weight shape {Shapes.Format(weight.Shape)} does not match the convolution");
        InChannels = conv.InChannels; OutChannels = conv.OutChannels; KernelSize = conv.KernelSize;
        Stride = conv.Stride; Padding = conv.Padding; Dilation = conv.Dilation;
        Weight = CsrMatrix.FromDense(weight.Data, OutChannels, weight.Numel / Math.Max(1, OutChannels));
        RegisterBuffer("bias", bias?.Detach().Clone());
        if (!alwaysSparse && SparseCrossover.ConvChoices(Weight.Density).Dense) _dense = weight.Detach().Clone();
    }

    protected override Tensor ForwardCore(Tensor input)
    {
        SparseModules.CheckNoGrad(this, input);
        if (input.Dim != 4 || input.Size(1) != InChannels)
            throw new ArgumentException($"SparseConv2d: expected input (N, {InChannels}, H, W), got {Shapes.Format(input.Shape)}");
        int n = input.Size(0), h = input.Size(2), w = input.Size(3);
        int oh = Im2Col.OutputSize(h, KernelSize.H, Stride.H, Padding.H, Dilation.H);
        int ow = Im2Col.OutputSize(w, KernelSize.W, Stride.W, Padding.W, Dilation.W);
        if (oh <= 0 || ow <= 0) throw new ArgumentException($"SparseConv2d: input {Shapes.Format(input.Shape)} is smaller than the kernel");
        var bias = GetOptional("bias");
        if (_dense != null && !SparseCrossover.ConvPrefersSparse(Weight.Density, (long)n * oh * ow))
            using (GradMode.NoGrad()) return F.Conv2d(input, _dense, bias, Stride, Padding, Dilation, 1);

        var y = Tensor.Empty(n, OutChannels, oh, ow);
        SparseConvForward(input.Data, n, h, w, oh, ow, y.Data, bias == null ? default : bias.Data);
        return y;
    }

    /// <summary>
    /// Images are unfolded (im2col) in groups that fill one 64-column tile of the sparse kernel (4 images of 4×4
    /// outputs, 16 of 2×2) and multiplied by the sparse weight while the columns are still in cache. With as many
    /// groups as threads, each thread takes whole groups; otherwise (batch 1) the threads split the weight's rows.
    /// </summary>
    private unsafe void SparseConvForward(ReadOnlySpan<float> x, int n, int h, int w, int oh, int ow, Span<float> y, ReadOnlySpan<float> bias)
    {
        int k = Weight.Cols, ohw = oh * ow, chw = InChannels * h * w, m = OutChannels;
        int perGroup = Math.Clamp(SparseKernels.ColumnTile / ohw, 1, n);
        int groups = (n + perGroup - 1) / perGroup;
        bool byGroup = groups >= Parallelism.AvailableThreads && Parallelism.AvailableThreads > 1;
        var offsets = ohw <= SparseKernels.ColumnTile ? WindowOffsets(h, w, oh, ow) : null;
        fixed (float* px = x) fixed (float* py = y) fixed (float* pb = bias)
        {
            nint xp = (nint)px, yp = (nint)py, bp = bias.IsEmpty ? 0 : (nint)pb;
            void Group(int gi)
            {
                int i0 = gi * perGroup, cnt = Math.Min(perGroup, n - i0), ld = cnt * ohw;
                var cols = ScratchPool.Rent((long)k * ld + SparseKernels.AlignPad);
                var outBuf = cnt > 1 ? ScratchPool.Rent((long)m * ld + SparseKernels.AlignPad) : null;
                try
                {
                    fixed (float* pc = cols) fixed (float* po = outBuf)
                    {
                        // Cache-line aligned columns (and partial outputs): the sparse kernel's 64-byte loads stay in one line.
                        float* c0 = SparseKernels.Align64(pc), o0 = outBuf == null ? null : SparseKernels.Align64(po);
                        var xs = new ReadOnlySpan<float>((float*)xp, n * chw);
                        var colSpan = new Span<float>(c0, k * ld);
                        if (offsets != null)
                            fixed (int* po2 = offsets)
                                GroupColumns((float*)xp + (long)i0 * chw, chw, cnt, InChannels, h * w, KernelSize.H * KernelSize.W, po2, ohw, c0, ld);
                        else
                            for (int i = 0; i < cnt; i++)
                                Im2Col.ToColumns(xs.Slice((i0 + i) * chw, chw), InChannels, h, w, KernelSize.H, KernelSize.W, Stride.H, Stride.W,
                                    Padding.H, Padding.W, Dilation.H, Dilation.W, colSpan.Slice(i * ohw), ld);
                        float* dst = (float*)yp + (long)i0 * m * ohw;
                        float* target = o0 == null ? dst : o0;
                        int ldc = o0 == null ? ohw : ld;
                        if (byGroup) SparseKernels.SpmmRows(Weight, c0, ld, ld, target, ldc, (float*)bp, 0, m);
                        else SparseKernels.Spmm(Weight, colSpan, ld, ld, new Span<float>(target, (m - 1) * ldc + ld), ldc,
                            new ReadOnlySpan<float>((float*)bp, bp == 0 ? 0 : m));
                        if (o0 != null)
                            for (int i = 0; i < cnt; i++)
                                for (int co = 0; co < m; co++)
                                    new Span<float>(o0 + (long)co * ld + i * ohw, ohw).CopyTo(new Span<float>(dst + ((long)i * m + co) * ohw, ohw));
                    }
                }
                finally
                {
                    ScratchPool.Return(cols);
                    if (outBuf != null) ScratchPool.Return(outBuf);
                }
            }
            if (byGroup) Parallelism.For(0, groups, Group);
            else for (int gi = 0; gi < groups; gi++) Group(gi);
        }
    }

    /// <summary>
    /// For each kernel tap (kh, kw) and output position, the input offset within a channel plane it reads, or -1
    /// where it falls in the padding: the unfolding of small maps as one table lookup per element.
    /// </summary>
    private int[] WindowOffsets(int h, int w, int oh, int ow)
    {
        var offs = new int[KernelSize.H * KernelSize.W * oh * ow];
        int q = 0;
        for (int i = 0; i < KernelSize.H; i++)
            for (int j = 0; j < KernelSize.W; j++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++)
                    {
                        int iy = y * Stride.H - Padding.H + i * Dilation.H, ix = x * Stride.W - Padding.W + j * Dilation.W;
                        offs[q++] = (uint)iy < (uint)h && (uint)ix < (uint)w ? iy * w + ix : -1;
                    }
        return offs;
    }

    /// <summary>
    /// im2col of <paramref name="cnt"/> images side by side (row stride ld, image i at column i·ohw) from the offset
    /// table: on 2×2 and 4×4 maps the generic im2col's per-row set-up cost more than the copying (15 ms of AlexNet's
    /// conv4 at batch 128).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private static unsafe void GroupColumns(float* x, int chw, int cnt, int channels, int plane, int taps, int* offs, int ohw, float* col, int ld)
    {
        for (int c = 0; c < channels; c++)
            for (int t = 0; t < taps; t++)
            {
                float* row = col + (long)(c * taps + t) * ld;
                int* o = offs + t * ohw;
                for (int i = 0; i < cnt; i++)
                {
                    float* src = x + (long)i * chw + (long)c * plane;
                    float* d = row + i * ohw;
                    for (int q = 0; q < ohw; q++)
                    {
                        int off = o[q];
                        d[q] = off >= 0 ? src[off] : 0f;
                    }
                }
            }
    }

    public override string ExtraRepr() =>
        $"{InChannels}, {OutChannels}, kernel_size=({KernelSize.H}, {KernelSize.W}), stride=({Stride.H}, {Stride.W}), nnz={Weight.NonZeros} ({100 * Weight.Density:F1}%)";
}

internal static class SparseModules
{
    public static void CheckNoGrad(Module m, Tensor input)
    {
        if (GradMode.IsEnabled && input.RequiresGrad)
            throw new InvalidOperationException($"{m.TypeName} is inference-only: run it under GradMode.NoGrad() or on inputs that do not require grad");
    }
}
