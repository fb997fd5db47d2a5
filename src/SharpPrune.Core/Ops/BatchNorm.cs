using SharpPrune.Kernels;

namespace SharpPrune.NN;

public static partial class F
{
    /// <summary>
    /// Batch normalisation over dim 1 of an (N, C, *) input, like torch.nn.functional.batch_norm. With
    /// <paramref name="training"/>, normalises with the batch mean and biased variance and, when running stats
    /// are given, updates them in place: running = (1 − momentum)·running + momentum·stat, using the unbiased
    /// variance for running_var. Otherwise normalises with the running stats. Differentiable in x, weight, bias.
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
        bool training = false, double momentum = 0.1, double eps = 1e-5)
        => BatchNormCore(x, runningMean, runningVar, weight, bias, training, momentum, eps, residual: null, relu: false);

    /// <summary>
    /// relu(batch_norm(x) + residual) (the residual optional) as one op: the normalised values are added and clamped
    /// as they are stored, and the backward masks the gradient before the batch norm's, so neither the batch norm's
    /// output nor the sum is a tensor of its own. Gives exactly what <see cref="BatchNorm"/>, an add and a ReLU give
    /// one by one, gradients included (residual, of x's shape, receives the masked gradient). The training step of a
    /// BN → ReLU pair or a residual block's tail saves one to two passes over the activation each way.
    /// </summary>
    public static Tensor BatchNormRelu(Tensor x, Tensor? residual, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null,
        Tensor? bias = null, bool training = false, double momentum = 0.1, double eps = 1e-5)
    {
        if (residual != null && !residual.Shape.SequenceEqual(x.Shape))
            throw new ArgumentException($"batch_norm_relu: residual shape {Shapes.Format(residual.Shape)} differs from the input's {Shapes.Format(x.Shape)}");
        return BatchNormCore(x, runningMean, runningVar, weight, bias, training, momentum, eps, residual, relu: true);
    }

    private static Tensor BatchNormCore(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight, Tensor? bias,
        bool training, double momentum, double eps, Tensor? residual, bool relu)
    {
        if (x.Dim < 2) throw new ArgumentException($"batch_norm: expected input with at least 2 dims (N, C, *), got shape {Shapes.Format(x.Shape)}");
        int n = x.Size(0), c = x.Size(1), l = x.Numel / Math.Max(1, n * c);
        if (n * c == 0 || l == 0) throw new ArgumentException($"batch_norm: input shape {Shapes.Format(x.Shape)} is empty");
        CheckChannelVector(runningMean, "running_mean", c);
        CheckChannelVector(runningVar, "running_var", c);
        CheckChannelVector(weight, "weight", c);
        CheckChannelVector(bias, "bias", c);
        if ((runningMean == null) != (runningVar == null))
            throw new ArgumentException("batch_norm: running_mean and running_var must both be given or both be null");
        if (!(eps >= 0)) throw new ArgumentOutOfRangeException(nameof(eps), $"batch_norm: eps must be >= 0, got {eps}");

        var y = Tensor.Empty(x.ShapeCopy());
        var wData = weight == null ? ReadOnlySpan<float>.Empty : weight.Data;
        var bData = bias == null ? ReadOnlySpan<float>.Empty : bias.Data;
        var rData = residual == null ? ReadOnlySpan<float>.Empty : residual.Data;
        float[] mean, stat; // training: batch mean and invstd; eval: running mean and variance (copied: they may change later)
        if (training)
        {
            if ((long)n * l <= 1)
                throw new ArgumentException($"batch_norm: expected more than 1 value per channel when training, got input size {Shapes.Format(x.Shape)}");
            mean = new float[c]; stat = new float[c];
            BatchNormKernels.ForwardTraining(n, c, l, x.Data, wData, bData, y.Data, mean, stat,
                runningMean == null ? Span<float>.Empty : runningMean.Data, runningVar == null ? Span<float>.Empty : runningVar.Data,
                momentum, eps, rData, relu);
            runningMean?.MarkChanged();
            runningVar?.MarkChanged();
        }
        else
        {
            if (runningMean == null || runningVar == null)
                throw new ArgumentException("batch_norm: running_mean and running_var must be defined in evaluation mode");
            mean = runningMean.ToArray(); stat = runningVar.ToArray();
            BatchNormKernels.ForwardInference(n, c, l, x.Data, wData, bData, mean, stat, eps, y.Data, rData, relu);
        }

        var inputs = new List<Tensor> { x };
        if (weight != null) inputs.Add(weight);
        if (bias != null) inputs.Add(bias);
        if (residual != null) inputs.Add(residual);
        return Tensor.Record(y, relu ? "BatchNormReluBackward" : "NativeBatchNormBackward", inputs.ToArray(), gy =>
        {
            // Through the ReLU first: the gradient where the output is positive (also the residual's gradient).
            var g = relu ? y.ReluGradient(gy) : gy;
            var gx = x.RequiresGrad ? Tensor.Empty(x.ShapeCopy()) : null;
            var gw = weight is { RequiresGrad: true } ? Tensor.Empty(c) : null;
            var gb = bias is { RequiresGrad: true } ? Tensor.Empty(c) : null;
            var w = weight == null ? ReadOnlySpan<float>.Empty : weight.Data;
            Span<float> sx = gx == null ? default : gx.Data, sw = gw == null ? default : gw.Data, sb = gb == null ? default : gb.Data;
            if (training)
                BatchNormKernels.BackwardTraining(n, c, l, x.Data, g.Data, w, mean, stat, sx, sw, sb);
            else
                BatchNormKernels.BackwardInference(n, c, l, x.Data, g.Data, w, mean, stat, eps, sx, sw, sb);
            var result = new List<Tensor?> { gx };
            if (weight != null) result.Add(gw);
            if (bias != null) result.Add(gb);
            if (residual != null) result.Add(residual.RequiresGrad ? g : null);
            // The masked gradient is this closure's own temporary unless handed on: the engine only recycles what
            // a backward returns, so give it back here (else every step allocates one activation's worth per op).
            if (relu && (residual == null || !residual.RequiresGrad)) g.Recycle();
            return result.ToArray();
        }, relu ? Autograd.Saved.Inputs | Autograd.Saved.Output : Autograd.Saved.Inputs);
    }

    private static void CheckChannelVector(Tensor? t, string name, int channels)
    {
        if (t != null && (t.Dim != 1 || t.Size(0) != channels))
            throw new ArgumentException($"batch_norm: {name} should have shape ({channels},) for an input with {channels} channels, got {Shapes.Format(t.Shape)}");
    }
}
