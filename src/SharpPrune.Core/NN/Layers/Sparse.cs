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

    /// <summary>From the effective (masked) weight (out, in) and bias.</summary>
    public SparseLinear(Tensor weight, Tensor? bias)
    {
        if (weight.Dim != 2) throw new ArgumentException($"SparseLinear: weight must be 2-D, got {Shapes.Format(weight.Shape)}");
        Weight = CsrMatrix.FromDense(weight.Data, weight.Size(0), weight.Size(1));
        RegisterBuffer("bias", bias?.Detach().Clone());
        if (!SparseCrossover.LinearPrefersSparse(Weight.Density, long.MaxValue)) _dense = weight.Detach().Clone();
    }

    protected override Tensor ForwardCore(Tensor input)
    {
        SparseModules.CheckNoGrad(this, input);
        if (input.Dim < 1 || input.Size(-1) != InFeatures)
            throw new ArgumentException($"SparseLinear: input shape {Shapes.Format(input.Shape)} does not match in_features {InFeatures}");
        var bias = GetOptional("bias");
        int rows = input.Numel / Math.Max(1, InFeatures);
        if (_dense != null && !SparseCrossover.LinearPrefersSparse(Weight.Density, rows))
            using (GradMode.NoGrad()) return F.Linear(input, _dense, bias);
        var shape = input.ShapeCopy(); shape[^1] = OutFeatures;
        var y = Tensor.Empty(shape);
        SparseKernels.LinearForward(Weight, input.Data, rows, y.Data, bias == null ? default : bias.Data);
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

    /// <summary>Most floats of unfolded columns held at once; more images are processed in chunks.</summary>
    internal static long MaxColumnFloats = 4L << 20;

    public SparseConv2d(Conv2d conv, Tensor weight, Tensor? bias)
    {
        if (conv.Groups != 1) throw new ArgumentException("SparseConv2d: grouped convolutions are not supported; keep the layer dense");
        if (!Shapes.Equal(weight.Shape, new[] { conv.OutChannels, conv.InChannels, conv.KernelSize.H, conv.KernelSize.W }))
            throw new ArgumentException($"SparseConv2d: weight shape {Shapes.Format(weight.Shape)} does not match the convolution");
        InChannels = conv.InChannels; OutChannels = conv.OutChannels; KernelSize = conv.KernelSize;
        Stride = conv.Stride; Padding = conv.Padding; Dilation = conv.Dilation;
        Weight = CsrMatrix.FromDense(weight.Data, OutChannels, weight.Numel / Math.Max(1, OutChannels));
        RegisterBuffer("bias", bias?.Detach().Clone());
        if (!SparseCrossover.ConvPrefersSparse(Weight.Density, long.MaxValue)) _dense = weight.Detach().Clone();
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

        int k = Weight.Cols, ohw = oh * ow, chw = InChannels * h * w;
        var y = Tensor.Empty(n, OutChannels, oh, ow);
        var x = input.Data; var yd = y.Data;
        var biasSpan = bias == null ? default : bias.Data;
        int chunk = (int)Math.Clamp(MaxColumnFloats / Math.Max(1L, (long)k * ohw), 1, n);
        var cols = new float[(long)k * ohw * chunk];
        var outBuf = chunk > 1 ? new float[(long)OutChannels * ohw * chunk] : null;
        for (int i0 = 0; i0 < n; i0 += chunk)
        {
            int m = Math.Min(chunk, n - i0), ld = m * ohw;
            for (int i = 0; i < m; i++)
                Im2Col.ToColumns(x.Slice((i0 + i) * chw, chw), InChannels, h, w, KernelSize.H, KernelSize.W, Stride.H, Stride.W,
                    Padding.H, Padding.W, Dilation.H, Dilation.W, cols.AsSpan(i * ohw), ld);
            if (ld <= SparseKernels.GatherRows)
            {
                // A handful of output positions (e.g. 2x2 maps at batch 1): one gathered dot product per output, over
                // the transposed columns, beats an AXPY of a few floats per non-zero.
                var colsT = new float[(long)ld * k];
                SparseKernels.Transpose(cols.AsSpan(0, k * ld), k, ld, colsT);
                var yT = new float[(long)ld * OutChannels];
                SparseKernels.LinearForward(Weight, colsT, ld, yT, biasSpan);
                for (int i = 0; i < m; i++)
                    for (int co = 0; co < OutChannels; co++)
                        for (int j = 0; j < ohw; j++)
                            yd[((i0 + i) * OutChannels + co) * ohw + j] = yT[(i * ohw + j) * OutChannels + co];
                continue;
            }
            if (m == 1)
            {
                SparseKernels.Spmm(Weight, cols, ld, ld, yd.Slice(i0 * OutChannels * ohw, OutChannels * ohw), ohw, biasSpan);
                continue;
            }
            SparseKernels.Spmm(Weight, cols, ld, ld, outBuf, ld, biasSpan);
            for (int i = 0; i < m; i++)
                for (int co = 0; co < OutChannels; co++)
                    outBuf.AsSpan(co * ld + i * ohw, ohw).CopyTo(yd.Slice(((i0 + i) * OutChannels + co) * ohw, ohw));
        }
        return y;
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
