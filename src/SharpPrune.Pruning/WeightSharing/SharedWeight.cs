using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// The weight-sharing reparametrisation of one parameter <c>name</c> (Deep Compression's quantization, kept
/// trainable as its centroid fine-tuning), in the style of pruning's <see cref="BasePruningMethod"/>:
/// <list type="bullet">
/// <item><c>name_codebook</c> — a parameter of shape (k,): the shared values (centroids);</item>
/// <item><c>name_indices</c> — a buffer of the parameter's shape: each entry's centroid (whole numbers stored as
/// float32, like every SharpPrune tensor);</item>
/// <item><c>name_mask</c> — the pruning mask, a buffer, when the parameter was pruned (its <c>name_orig</c> is gone:
/// the codebook replaces it);</item>
/// <item><c>name</c> — a plain attribute <c>codebook.Take(indices) * mask</c>, recomputed by this forward
/// pre-hook. Autograd's <see cref="Tensor.Take"/> scatter-adds, so each centroid's gradient is the sum of the gradients of
/// the weights assigned to it, and pruned entries contribute none; the assignments never change.</item>
/// </list>
/// </summary>
public sealed class SharedWeight : IForwardPreHook, IRetainsNoTensors
{
    public const string CodebookSuffix = "_codebook", IndicesSuffix = "_indices", MaskSuffix = "_mask";

    /// <summary>The parameter this hook recomputes.</summary>
    public string TensorName { get; }

    internal SharedWeight(string tensorName) => TensorName = tensorName;

    /// <summary><c>codebook.Take(indices)</c>, times the mask when there is one; recorded by autograd in grad mode.</summary>
    public Tensor Compute(Module module)
    {
        var codebook = Get(module, CodebookSuffix);
        var shared = codebook.Take(Get(module, IndicesSuffix));
        return module.HasBuffer(TensorName + MaskSuffix) ? shared * Get(module, MaskSuffix) : shared;
    }

    public Tensor? Invoke(Module module, Tensor input)
    {
        module[TensorName] = Compute(module);
        return null;
    }

    private Tensor Get(Module module, string suffix) =>
        module.TryGet(TensorName + suffix, out var t) && t != null ? t
            : throw new InvalidOperationException($"{module.TypeName} has no '{TensorName}{suffix}': '{TensorName}' is not weight-shared on this module");

    public override string ToString() => $"SharedWeight({TensorName})";
}
