using SharpPrune.Kernels;

namespace SharpPrune.NN;

public static partial class F
{
    /// <summary>2-D convolution (cross-correlation), NCHW, weight (out, in/groups, kh, kw).</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null,
        (int H, int W)? stride = null, (int H, int W)? padding = null, (int H, int W)? dilation = null, int groups = 1)
    {
        var g = Geometry(x, weight, bias, stride, padding, dilation, groups);
        var y = Tensor.Empty(g.N, g.COut, g.OutH, g.OutW);
        Conv2dKernels.Forward(g, x.Data, weight.Data, bias == null ? ReadOnlySpan<float>.Empty : bias.Data, y.Data);
        var inputs = bias == null ? new[] { x, weight } : new[] { x, weight, bias };
        return Tensor.Record(y, "ConvolutionBackward", inputs, go =>
        {
            Tensor? gx = null, gw = null, gb = null;
            if (x.RequiresGrad)
            {
                gx = Tensor.Empty(x.ShapeCopy());
                Conv2dKernels.BackwardInput(g, go.Data, weight.Data, gx.Data);
            }
            bool needB = bias != null && bias.RequiresGrad;
            if (weight.RequiresGrad || needB)
            {
                // Straight into weight.Grad when it exists (no parameter-sized temporary), else a fresh gradient.
                bool into = weight.RequiresGrad && Autograd.Engine.CanAccumulateInto(weight, out _);
                var gwt = into ? weight.Grad! : Tensor.Empty(weight.ShapeCopy());
                if (needB) gb = Tensor.Empty(g.COut);
                Conv2dKernels.BackwardWeight(g, x.Data, go.Data, gwt.Data, needB ? gb!.Data : Span<float>.Empty, accumulate: into);
                if (into) gwt.MarkChanged();
                else if (weight.RequiresGrad) gw = gwt;
            }
            return bias == null ? new[] { gx, gw } : new[] { gx, gw, gb };
        });
    }

    private static Conv2dGeometry Geometry(Tensor x, Tensor weight, Tensor? bias,
        (int H, int W)? stride, (int H, int W)? padding, (int H, int W)? dilation, int groups)
    {
        var (sh, sw) = stride ?? (1, 1);
        var (ph, pw) = padding ?? (0, 0);
        var (dh, dw) = dilation ?? (1, 1);
        if (x.Dim != 4) throw new ArgumentException($"conv2d: expected 4-D input (N, C, H, W), got {Shapes.Format(x.Shape)}");
        if (weight.Dim != 4) throw new ArgumentException($"conv2d: expected 4-D weight (out, in/groups, kH, kW), got {Shapes.Format(weight.Shape)}");
        if (groups < 1 || x.Size(1) % groups != 0 || weight.Size(0) % groups != 0)
            throw new ArgumentException($"conv2d: groups={groups} must divide in_channels={x.Size(1)} and out_channels={weight.Size(0)}");
        if (weight.Size(1) * groups != x.Size(1))
            throw new ArgumentException($"conv2d: weight of shape {Shapes.Format(weight.Shape)} with groups={groups} expects input to have {weight.Size(1) * groups} channels, but got {x.Size(1)} channels (input shape {Shapes.Format(x.Shape)})");
        if (sh < 1 || sw < 1 || dh < 1 || dw < 1 || ph < 0 || pw < 0)
            throw new ArgumentException($"conv2d: stride ({sh}, {sw}) and dilation ({dh}, {dw}) must be >= 1 and padding ({ph}, {pw}) >= 0");
        if (bias != null && (bias.Dim != 1 || bias.Size(0) != weight.Size(0)))
            throw new ArgumentException($"conv2d: bias shape {Shapes.Format(bias.Shape)} does not match out_channels {weight.Size(0)}");
        var g = new Conv2dGeometry(x.Size(0), x.Size(1), x.Size(2), x.Size(3), weight.Size(0), weight.Size(2), weight.Size(3), sh, sw, ph, pw, dh, dw, groups);
        if (g.OutH < 1 || g.OutW < 1)
            throw new ArgumentException($"conv2d: input {Shapes.Format(x.Shape)} is too small for kernel ({g.KH}, {g.KW}) with padding ({ph}, {pw}), dilation ({dh}, {dw})");
        return g;
    }

    /// <summary>
    /// Inference only (no recording): conv2d, then an eval-mode BatchNorm with running statistics, then
    /// + <paramref name="residual"/> if given (a residual block's shortcut, the output's shape), then ReLU if asked,
    /// in the convolution's store (direct kernel) or per chunk while it is in cache (im2col-GEMM).
    /// Bit for bit what the ops give separately. Modules fuse into it only where no hook could tell.
    /// </summary>
    internal static Tensor Conv2dBatchNormInference(Tensor x, Tensor weight, Tensor? bias,
        (int H, int W) stride, (int H, int W) padding, (int H, int W) dilation, int groups,
        Tensor runningMean, Tensor runningVar, Tensor? bnWeight, Tensor? bnBias, double eps, bool relu, Tensor? residual = null)
    {
        if (Autograd.GradMode.IsEnabled) throw new InvalidOperationException("conv2d+batch_norm fusion is for inference under no-grad");
        var g = Geometry(x, weight, bias, stride, padding, dilation, groups);
        int c = g.COut;
        if (runningMean.Numel != c || runningVar.Numel != c || (bnWeight != null && bnWeight.Numel != c) || (bnBias != null && bnBias.Numel != c))
            throw new ArgumentException($"batch_norm: running stats of {runningMean.Numel} channels for a conv output of {c} channels");
        // The BatchNorm kernel's per-channel scale and shift, computed the same way (double, then float).
        var scale = new float[c]; var shift = new float[c];
        var rm = runningMean.Data; var rv = runningVar.Data;
        for (int ch = 0; ch < c; ch++)
        {
            double invstd = 1.0 / Math.Sqrt(rv[ch] + eps);
            double w = bnWeight?.Data[ch] ?? 1.0, b = bnBias?.Data[ch] ?? 0.0;
            scale[ch] = (float)(invstd * w);
            shift[ch] = (float)(b - rm[ch] * invstd * w);
        }
        if (residual != null && (residual.Dim != 4 || residual.Size(0) != g.N || residual.Size(1) != g.COut
            || residual.Size(2) != g.OutH || residual.Size(3) != g.OutW))
            throw new ArgumentException($"conv2d+batch_norm: residual of shape {Shapes.Format(residual.Shape)} for an output of shape [{g.N}, {g.COut}, {g.OutH}, {g.OutW}]");
        var y = Tensor.Empty(g.N, g.COut, g.OutH, g.OutW);
        Conv2dKernels.ForwardAffine(g, x.Data, weight.Data, bias == null ? ReadOnlySpan<float>.Empty : bias.Data, y.Data, scale, shift,
            residual == null ? ReadOnlySpan<float>.Empty : residual.Data, relu);
        return y;
    }
}
