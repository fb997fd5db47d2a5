using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// Weight rewinding for the lottery ticket hypothesis (Frankle &amp; Carbin 2019; Frankle et al. 2019's "late
/// rewinding"): after pruning, every weight is reset to its value in an earlier state (the initialisation or an
/// early epoch) while the masks are kept, and the sparse network is trained again.
/// </summary>
public static class Rewind
{
    /// <summary>
    /// Writes the values of <paramref name="state"/> (a state dict saved earlier, dense — <c>conv1.weight</c> — or
    /// pruned — <c>conv1.weight_orig</c>, whose masks are ignored) into <paramref name="model"/>'s parameters and
    /// buffers; for pruned tensors into <c>weight_orig</c>, keeping <c>weight_mask</c>. Every tensor of the model
    /// except masks must be in the state with the same shape; nothing is written if one is not.
    /// </summary>
    public static void To(Module model, IEnumerable<KeyValuePair<string, Tensor>> state)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(state);
        var source = new Dictionary<string, Tensor>();
        var entries = state.ToList();
        var keys = entries.Select(kv => kv.Key).ToHashSet();
        foreach (var (key, value) in entries)
        {
            if (key.EndsWith("_mask", StringComparison.Ordinal) && keys.Contains(key[..^"_mask".Length] + "_orig")) continue;
            string k = key.EndsWith("_orig", StringComparison.Ordinal) && keys.Contains(key[..^"_orig".Length] + "_mask") ? key[..^"_orig".Length] : key;
            source[k] = value;
        }

        var plan = new List<(Tensor Into, Tensor From)>();
        var own = model.StateDict();
        var ownKeys = own.Select(kv => kv.Key).ToHashSet();
        foreach (var (key, into) in own)
        {
            if (key.EndsWith("_mask", StringComparison.Ordinal) && ownKeys.Contains(key[..^"_mask".Length] + "_orig")) continue;
            string k = key.EndsWith("_orig", StringComparison.Ordinal) && ownKeys.Contains(key[..^"_orig".Length] + "_mask") ? key[..^"_orig".Length] : key;
            if (!source.TryGetValue(k, out var from))
                throw new KeyNotFoundException($"the rewind state has no '{k}' (needed for the model's '{key}')");
            if (!Shapes.Equal(from.Shape, into.Shape))
                throw new ArgumentException($"rewind state '{k}' has shape {Shapes.Format(from.Shape)} but the model's '{key}' has {Shapes.Format(into.Shape)}");
            plan.Add((into, from));
        }
        using (GradMode.NoGrad())
            foreach (var (into, from) in plan) into.CopyFrom(from);
        Prune.Refresh(model);
    }
}
