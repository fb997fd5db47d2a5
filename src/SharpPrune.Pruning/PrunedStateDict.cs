using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// Loads a pruned model's state dict (PyTorch's keys: <c>conv1.weight_orig</c>, <c>conv1.weight_mask</c>) into a
/// freshly built, unpruned model. PyTorch cannot do this directly — <c>load_state_dict</c> fails on the
/// unexpected keys unless the new model is pruned the same way first; <see cref="Prepare(Module, IEnumerable{string})"/>
/// does that re-pruning from the keys themselves with <see cref="CustomFromMask"/>.
/// </summary>
public static class PrunedStateDict
{
    /// <summary>
    /// For every key <c>path.X_mask</c> with a matching <c>path.X_orig</c>, reparametrises parameter <c>X</c> of
    /// submodule <c>path</c> with a mask of ones, so the model's state-dict keys match; the values come with
    /// <see cref="Module.LoadStateDict"/>. Tensors already pruned are left alone. Returns the tensor paths
    /// prepared ("conv1.weight").
    /// </summary>
    public static IReadOnlyList<string> Prepare(Module model, IEnumerable<string> keys) =>
        PrepareCore(model, keys.Select(k => new KeyValuePair<string, Tensor?>(k, null)));

    /// <summary>As <see cref="Prepare(Module, IEnumerable{string})"/>, installing the masks found in <paramref name="stateDict"/>.</summary>
    public static IReadOnlyList<string> Prepare(Module model, IEnumerable<KeyValuePair<string, Tensor>> stateDict) =>
        PrepareCore(model, stateDict.Select(kv => new KeyValuePair<string, Tensor?>(kv.Key, kv.Value)));

    /// <summary>
    /// <see cref="Prepare(Module, IEnumerable{KeyValuePair{string, Tensor}})"/>, then <see cref="Module.LoadStateDict"/>,
    /// then refreshes each pruned attribute (and weight-shared one, see <see cref="SharedStateDict"/>) so <c>module["weight"]</c> shows the loaded <c>orig * mask</c> at once.
    /// </summary>
    public static LoadResult Load(Module model, IEnumerable<KeyValuePair<string, Tensor>> stateDict, bool strict = true)
    {
        var entries = stateDict.ToList();
        SharedStateDict.Prepare(model, entries); // X_codebook/X_indices keys of a quantized model
        Prepare(model, entries);
        var result = model.LoadStateDict(entries, strict);
        Prune.Refresh(model);
        WeightSharing.Refresh(model);
        return result;
    }

    /// <summary>
    /// The state dict an unpruned model of the same shape loads: each <c>X_orig</c>/<c>X_mask</c> pair becomes
    /// <c>X = X_orig * X_mask</c> (at X_orig's place), as <see cref="Prune.Remove"/> would leave it; other entries
    /// are passed through. For exporting to tools that know nothing of pruning (PyTorch's plain load_state_dict).
    /// </summary>
    public static List<KeyValuePair<string, Tensor>> Baked(IEnumerable<KeyValuePair<string, Tensor>> stateDict)
    {
        var entries = stateDict.ToList();
        var byKey = new Dictionary<string, Tensor>();
        foreach (var kv in entries) byKey[kv.Key] = kv.Value;
        var result = new List<KeyValuePair<string, Tensor>>(entries.Count);
        foreach (var (key, value) in entries)
        {
            if (key.EndsWith("_orig", StringComparison.Ordinal) && byKey.TryGetValue(key[..^"_orig".Length] + "_mask", out var mask))
            {
                if (!Shapes.Equal(mask.Shape, value.Shape))
                    throw new ArgumentException($"state dict key '{key}' has shape {Shapes.Format(value.Shape)} but its mask has {Shapes.Format(mask.Shape)}");
                var baked = new float[value.Numel];
                System.Numerics.Tensors.TensorPrimitives.Multiply(value.Data, mask.Data, baked);
                result.Add(new(key[..^"_orig".Length], new Tensor(baked, value.ShapeCopy())));
            }
            else if (key.EndsWith("_mask", StringComparison.Ordinal) && byKey.ContainsKey(key[..^"_mask".Length] + "_orig")) continue;
            else result.Add(new(key, value));
        }
        return result;
    }

    private static IReadOnlyList<string> PrepareCore(Module model, IEnumerable<KeyValuePair<string, Tensor?>> entries)
    {
        var all = new Dictionary<string, Tensor?>();
        foreach (var kv in entries) all[kv.Key] = kv.Value;

        // Check every pruned key first so that a bad one leaves the model untouched.
        var plan = new List<(string Key, Module Module, string Name, Tensor Mask)>();
        foreach (var (key, value) in all)
        {
            if (!key.EndsWith("_mask", StringComparison.Ordinal)) continue;
            string stem = key[..^"_mask".Length];
            if (!all.ContainsKey(stem + "_orig")) continue; // an ordinary buffer that happens to end in _mask
            int dot = stem.LastIndexOf('.');
            string path = dot < 0 ? "" : stem[..dot], name = stem[(dot + 1)..];
            Module module;
            try { module = model.GetSubmodule(path); }
            catch (KeyNotFoundException e) { throw new KeyNotFoundException($"state dict key '{key}': {e.Message}", e); }
            if (BasePruningMethod.FindHook(module, name).Hook != null) continue;
            var (_, _, current) = BasePruningMethod.Inspect(module, name);
            if (value != null && !Shapes.Equal(value.Shape, current.Shape))
                throw new ArgumentException(
                    $"state dict key '{key}' has shape {Shapes.Format(value.Shape)} but parameter '{stem}' of the model has shape {Shapes.Format(current.Shape)}");
            plan.Add((stem, module, name, value ?? Tensor.OnesLike(current)));
        }
        foreach (var (_, module, name, mask) in plan)
            BasePruningMethod.Apply(module, name, new CustomFromMask(mask));
        return plan.Select(p => p.Key).ToList();
    }
}
