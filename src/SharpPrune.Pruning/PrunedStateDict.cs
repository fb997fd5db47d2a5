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
