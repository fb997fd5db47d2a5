namespace SharpPrune.NN;

/// <summary>
/// A module whose forward runs its children (Sequential, the zoo's models and blocks). It chains them with
/// <see cref="Chain(Tensor, IReadOnlyList{Module})"/>, which under no-grad recycles consumed intermediates and fuses
/// Conv2d → eval BatchNorm2d [→ ReLU] (see <see cref="ActivationMemory"/>), so a container gets both by running
/// its children through it rather than one by one.
/// </summary>
public abstract class Container : Module
{
    /// <summary>
    /// Runs <paramref name="modules"/> in order on <paramref name="input"/>. Under no-grad each intermediate
    /// result goes back to the storage pool as soon as the next module has consumed it (the input never does),
    /// so inference reuses a few buffers instead of allocating every activation.
    /// </summary>
    protected static Tensor Chain(Tensor input, IReadOnlyList<Module> modules)
    {
        var x = input;
        for (int i = 0; i < modules.Count; i++)
        {
            if (!TryConvBatchNorm(modules, i, x, out var y, out int used) && !TrySparseLinearRelu(modules, i, x, out y, out used)
                && !TryBatchNormRelu(modules, i, x, out y, out used))
                y = modules[i].Forward(x);
            // x may still be the caller's input (an Identity, a view): that is never ours to recycle.
            if (i > 0 && !x.SharesStorageWith(input)) ActivationMemory.Recycle(x, modules[i - 1], modules[i], y);
            i += used - 1; // the last module that ran produced y
            x = y;
        }
        return x;
    }

    /// <inheritdoc cref="Chain(Tensor, IReadOnlyList{Module})"/>
    protected static Tensor Chain(Tensor input, params Module[] modules) => Chain(input, (IReadOnlyList<Module>)modules);

    /// <inheritdoc cref="ActivationMemory.Recycle"/>
    protected static void Recycle(Tensor t, Module producer, Module? consumer, Tensor? consumerOutput) =>
        ActivationMemory.Recycle(t, producer, consumer, consumerOutput);

    /// <summary>
    /// Under no-grad: Conv2d → eval BatchNorm2d (running statistics) [→ ReLU] in one pass over the output, when no
    /// hook could observe the intermediate results (the conv may have pre-hooks, e.g. pruning's: they still run;
    /// BatchNorm and ReLU must have none). Gives exactly what the modules give one by one.
    /// </summary>
    private static bool TryConvBatchNorm(IReadOnlyList<Module> modules, int i, Tensor x, out Tensor y, out int used)
    {
        y = null!; used = 1;
        if (i + 1 >= modules.Count || !Fusable(modules[i], modules[i + 1], out var conv, out var bn)) return false;
        bool relu = i + 2 < modules.Count && IsPlainRelu(modules[i + 2]);
        var input = conv.RunPreHooks(x);
        y = F.Conv2dBatchNormInference(input, conv.Weight, conv.Bias, conv.Stride, conv.Padding, conv.Dilation, conv.Groups,
            bn.RunningMean!, bn.RunningVar!, bn.Weight, bn.Bias, bn.Eps, relu);
        used = relu ? 3 : 2;
        return true;
    }

    /// <summary>Whether conv → bn may run as one fused inference op: no-grad, an eval BatchNorm2d with running
    /// statistics right after a Conv2d, no hook that could observe the conv's output or the BatchNorm.</summary>
    private static bool Fusable(Module convModule, Module bnModule, out Conv2d conv, out BatchNorm2d bn)
    {
        conv = null!; bn = null!;
        if (Autograd.GradMode.IsEnabled) return false;
        if (convModule is not Conv2d c || c.HasForwardHooks) return false;
        if (bnModule is not BatchNorm2d b || b.Training || b.HasPreHooks || b.HasForwardHooks
            || b.RunningMean is null || b.RunningVar is null || b.NumFeatures != c.OutChannels) return false;
        conv = c; bn = b;
        return true;
    }

    /// <summary>
    /// Under no-grad: SparseLinear → ReLU as one call that applies the ReLU while storing the layer's outputs (at
    /// batch 1 the separate ReLU, its output tensor and the recycling cost about as much as the sparse product).
    /// Only when neither module has hooks of any kind, so nothing could observe the skipped intermediate.
    /// </summary>
    private static bool TrySparseLinearRelu(IReadOnlyList<Module> modules, int i, Tensor x, out Tensor y, out int used)
    {
        y = null!; used = 1;
        if (Autograd.GradMode.IsEnabled || i + 1 >= modules.Count) return false;
        if (modules[i] is not SparseLinear s || s.HasPreHooks || s.HasForwardHooks || !IsPlainRelu(modules[i + 1])) return false;
        y = s.Compute(x, relu: true);
        used = 2;
        return true;
    }

    /// <summary>
    /// BatchNorm → ReLU as one op (<see cref="F.BatchNormRelu"/>) where the conv fusion did not take the pair (in
    /// training above all: the batch statistics must be known before anything is stored, so the convolution cannot
    /// absorb them). Only when neither module has hooks of any kind, so nothing could observe the skipped
    /// intermediate; the tracers of export and structured pruning hook every layer, so they see the ops one by one.
    /// </summary>
    private static bool TryBatchNormRelu(IReadOnlyList<Module> modules, int i, Tensor x, out Tensor y, out int used)
    {
        y = null!; used = 1;
        if (i + 1 >= modules.Count || !FusesBatchNormRelu(modules[i], modules[i + 1])) return false;
        y = ((BatchNormBase)modules[i]).ForwardRelu(x, residual: null);
        used = 2;
        return true;
    }

    /// <summary>Whether bn → relu may run as one op (<see cref="BatchNormAddRelu"/>): a BatchNorm and a ReLU, neither with hooks.</summary>
    protected static bool FusesBatchNormRelu(Module bn, Module relu) =>
        bn is BatchNormBase b && !b.HasPreHooks && !b.HasForwardHooks && IsPlainRelu(relu);

    /// <summary>
    /// relu(bn(x) + residual) as one op, exactly what the modules and the add give one by one (a residual block's
    /// tail in training). Only where <see cref="FusesBatchNormRelu"/> said so; residual has x's shape.
    /// </summary>
    protected static Tensor BatchNormAddRelu(Module bn, Tensor x, Tensor residual)
    {
        if (bn is not BatchNormBase b || b.HasPreHooks || b.HasForwardHooks)
            throw new InvalidOperationException("batch_norm+add+relu fusion needs a BatchNorm module without hooks");
        return b.ForwardRelu(x, residual);
    }

    private static bool IsPlainRelu(Module m) => m is ReLU r && !r.HasPreHooks && !r.HasForwardHooks;

    /// <summary>
    /// Whether a residual block's tail relu(bn(conv(h)) + shortcut) may run as one fused inference op
    /// (<see cref="ConvBatchNormAddRelu"/>): the Conv2d → BatchNorm2d fusion's rules, and a ReLU without hooks.
    /// </summary>
    protected static bool FusesConvBatchNormAddRelu(Module conv, Module bn, Module relu) =>
        Fusable(conv, bn, out _, out _) && IsPlainRelu(relu);

    /// <summary>
    /// relu(bn(conv(h)) + residual) in one pass over the output (the conv's pre-hooks still run), exactly what the
    /// ops give one by one. Only where <see cref="FusesConvBatchNormAddRelu"/> said so; residual has the output's shape.
    /// </summary>
    protected static Tensor ConvBatchNormAddRelu(Module conv, Module bn, Tensor h, Tensor residual)
    {
        if (!Fusable(conv, bn, out var c, out var b))
            throw new InvalidOperationException("conv+batch_norm+add+relu fusion needs no-grad, an eval BatchNorm2d and no hooks");
        var input = c.RunPreHooks(h);
        return F.Conv2dBatchNormInference(input, c.Weight, c.Bias, c.Stride, c.Padding, c.Dilation, c.Groups,
            b.RunningMean!, b.RunningVar!, b.Weight, b.Bias, b.Eps, relu: true, residual);
    }
}
