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
            if (!TryConvBatchNorm(modules, i, x, out var y, out int used)) y = modules[i].Forward(x);
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
        if (Autograd.GradMode.IsEnabled || i + 1 >= modules.Count) return false;
        if (modules[i] is not Conv2d conv || conv.HasForwardHooks) return false;
        if (modules[i + 1] is not BatchNorm2d bn || bn.Training || bn.HasPreHooks || bn.HasForwardHooks
            || bn.RunningMean is not { } rm || bn.RunningVar is not { } rv || bn.NumFeatures != conv.OutChannels) return false;
        bool relu = i + 2 < modules.Count && modules[i + 2] is ReLU r && !r.HasPreHooks && !r.HasForwardHooks;
        var input = conv.RunPreHooks(x);
        y = F.Conv2dBatchNormInference(input, conv.Weight, conv.Bias, conv.Stride, conv.Padding, conv.Dilation, conv.Groups,
            rm, rv, bn.Weight, bn.Bias, bn.Eps, relu);
        used = relu ? 3 : 2;
        return true;
    }
}
