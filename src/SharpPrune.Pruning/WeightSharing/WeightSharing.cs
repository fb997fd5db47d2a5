using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// Deep Compression's weight sharing (Han, Mao, Dally 2016): the surviving weights of a layer are clustered by
/// 1-D k-means into at most 2^bits shared values; each weight keeps only the index of its value. Applied to a
/// parameter it installs the <see cref="SharedWeight"/> reparametrisation (the pruning mask, if any, is kept and the
/// pruned entries stay zero); training afterwards fine-tunes the centroids.
/// <code>
/// WeightSharing.Apply(model.GetSubmodule("fc1"), "weight", bits: 5);          // linear init, as the paper
/// WeightSharing.ApplyToModel(model, WeightSharing.DefaultBits);              // conv 8 bits, fc 5 bits
/// </code>
/// </summary>
public static class WeightSharing
{
    /// <summary>The paper's bits per layer type: 8 for convolutions, 5 for fully connected layers.</summary>
    public static int DefaultBits(string layerName, Module layer) => layer is Conv2d ? 8 : 5;

    /// <summary>The most bits per index the reparametrisation and the .spz format accept (2^16 centroids).</summary>
    public const int MaxBits = 16;

    /// <summary>
    /// Clusters parameter <paramref name="name"/> of <paramref name="module"/> (its unpruned entries) into at most
    /// 2^<paramref name="bits"/> shared values and reparametrises it. Returns the hook. A pruned parameter keeps its
    /// mask; its pruning hook and <c>name_orig</c> are replaced by the codebook. Throws, changing nothing, when the
    /// parameter is missing or already shared.
    /// </summary>
    public static SharedWeight Apply(Module module, string name, int bits, CentroidInit init = CentroidInit.Linear, Generator? generator = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(name);
        if (bits < 1 || bits > MaxBits) throw new ArgumentOutOfRangeException(nameof(bits), bits, $"bits must be in [1, {MaxBits}]");
        if (Find(module, name) != null) throw new InvalidOperationException($"'{name}' of {module.TypeName} is already weight-shared");
        var (pruneId, pruning) = BasePruningMethod.FindHook(module, name);
        var values = BasePruningMethod.EffectiveTensor(module, name, pruned: pruning != null);
        Tensor? mask = pruning != null ? module[name + "_mask"]!.Clone() : null;

        var (codebook, indices) = Cluster(values, mask, bits, init, generator);

        if (pruning != null)
        {
            module.RemoveForwardPreHook(pruneId);
            module.DeleteAttribute(name + "_orig");
            module.DeleteAttribute(name + "_mask");
        }
        if (module.HasAttribute(name)) module.DeleteAttribute(name);
        return Install(module, name, codebook, indices, mask);
    }

    /// <summary>
    /// <see cref="Apply"/> on the weight of every Conv2d and Linear layer for which <paramref name="bits"/> returns a
    /// value (null skips the layer). Returns the layers shared.
    /// </summary>
    public static IReadOnlyList<string> ApplyToModel(Module model, Func<string, Module, int?> bits, CentroidInit init = CentroidInit.Linear, Generator? generator = null)
    {
        var done = new List<string>();
        foreach (var (path, m) in model.NamedModules().Where(m => m.Module is Conv2d or Linear).ToList())
        {
            if (bits(path, m) is not int b) continue;
            Apply(m, "weight", b, init, generator);
            done.Add(path);
        }
        return done;
    }

    /// <summary>
    /// k-means over the entries where <paramref name="mask"/> is non-zero (all entries without a mask): the codebook
    /// and, per entry, its centroid index (0 at pruned entries).
    /// </summary>
    public static (Tensor Codebook, Tensor Indices) Cluster(Tensor values, Tensor? mask, int bits, CentroidInit init = CentroidInit.Linear, Generator? generator = null)
    {
        if (mask != null && !Shapes.Equal(mask.Shape, values.Shape))
            throw new ArgumentException($"mask shape {Shapes.Format(mask.Shape)} does not match the weight's {Shapes.Format(values.Shape)}");
        var v = values.Data;
        var m = mask != null ? mask.Data : Tensor.OnesLike(values).Data;
        var alive = new List<float>(v.Length);
        for (int i = 0; i < v.Length; i++) if (m[i] != 0f) alive.Add(v[i]);
        var km = KMeans1d.Fit(alive.ToArray(), 1 << bits, init, generator);
        var indices = Tensor.Zeros(values.ShapeCopy());
        var id = indices.Data;
        for (int i = 0, a = 0; i < v.Length; i++) if (m[i] != 0f) id[i] = km.Assignments[a++];
        return (Tensor.FromArray(km.Centroids, km.Centroids.Length), indices);
    }

    /// <summary>
    /// Installs the reparametrisation from given tensors (what loading a state dict or a .spz file does): parameter
    /// <c>name_codebook</c>, buffers <c>name_indices</c> and (if given) <c>name_mask</c>, the hook, and <c>name</c>
    /// computed. <c>name</c> must not be a parameter any more.
    /// </summary>
    internal static SharedWeight Install(Module module, string name, Tensor codebook, Tensor indices, Tensor? mask)
    {
        Tensor.ToIndices(indices.Data, codebook.Numel); // refuse indices outside the codebook before touching anything
        module.RegisterParameter(name + SharedWeight.CodebookSuffix, codebook.RequiresGrad_());
        module.RegisterBuffer(name + SharedWeight.IndicesSuffix, indices);
        if (mask != null) module.RegisterBuffer(name + SharedWeight.MaskSuffix, mask);
        var hook = new SharedWeight(name);
        using (GradMode.NoGrad()) module[name] = hook.Compute(module);
        module.RegisterForwardPreHook(hook);
        return hook;
    }

    /// <summary>
    /// Makes the sharing permanent (as <see cref="Prune.Remove"/>): <c>name</c> becomes a plain parameter holding
    /// the shared values (zeros where pruned); the codebook, indices, mask and hook are dropped.
    /// </summary>
    public static void Remove(Module module, string name)
    {
        var hook = Find(module, name) ?? throw new InvalidOperationException($"'{name}' of {module.TypeName} is not weight-shared");
        Tensor w;
        using (GradMode.NoGrad()) w = hook.Compute(module).Detach().Clone();
        foreach (var (id, h) in module.ForwardPreHooks.ToArray()) if (ReferenceEquals(h, hook)) module.RemoveForwardPreHook(id);
        if (module.HasAttribute(name)) module.DeleteAttribute(name);
        foreach (var suffix in new[] { SharedWeight.CodebookSuffix, SharedWeight.IndicesSuffix, SharedWeight.MaskSuffix })
            if (module.HasAttribute(name + suffix)) module.DeleteAttribute(name + suffix);
        module.RegisterParameter(name, w.RequiresGrad_());
    }

    /// <summary>The weight-sharing hook of <paramref name="name"/> on <paramref name="module"/>, or null.</summary>
    public static SharedWeight? Find(Module module, string name)
    {
        foreach (var (_, h) in module.ForwardPreHooks)
            if (h is SharedWeight s && s.TensorName == name) return s;
        return null;
    }

    /// <summary>Every weight-shared tensor of <paramref name="model"/>: (module path, module, hook).</summary>
    public static IEnumerable<(string Path, Module Module, SharedWeight Hook)> SharedTensors(Module model)
    {
        foreach (var (path, m) in model.NamedModules())
            foreach (var (_, h) in m.ForwardPreHooks)
                if (h is SharedWeight s) yield return (path, m, s);
    }

    /// <summary>Recomputes every shared attribute now (after loading values), without recording a graph.</summary>
    public static void Refresh(Module model)
    {
        using var _ = GradMode.NoGrad();
        foreach (var (_, m, hook) in SharedTensors(model)) m[hook.TensorName] = hook.Compute(m);
    }
}

/// <summary>
/// Loads weight-shared state dicts (keys <c>fc1.weight_codebook</c>, <c>fc1.weight_indices</c>, optionally
/// <c>fc1.weight_mask</c> without a <c>_orig</c>) into a freshly built model: the reparametrisation is installed from
/// the keys first, so <see cref="Module.LoadStateDict"/> finds every key. <see cref="PrunedStateDict.Load"/> calls it.
/// </summary>
public static class SharedStateDict
{
    /// <summary>Installs weight sharing for every <c>X_codebook</c>/<c>X_indices</c> pair; returns the tensor paths.</summary>
    public static IReadOnlyList<string> Prepare(Module model, IEnumerable<KeyValuePair<string, Tensor>> stateDict)
    {
        var all = new Dictionary<string, Tensor>();
        foreach (var kv in stateDict) all[kv.Key] = kv.Value;
        var plan = new List<(string Stem, Module Module, string Name, Tensor Codebook, Tensor Indices, Tensor? Mask)>();
        foreach (var (key, codebook) in all)
        {
            if (!key.EndsWith(SharedWeight.CodebookSuffix, StringComparison.Ordinal)) continue;
            string stem = key[..^SharedWeight.CodebookSuffix.Length];
            if (!all.TryGetValue(stem + SharedWeight.IndicesSuffix, out var indices)) continue;
            int dot = stem.LastIndexOf('.');
            string path = dot < 0 ? "" : stem[..dot], name = stem[(dot + 1)..];
            Module module;
            try { module = model.GetSubmodule(path); }
            catch (KeyNotFoundException e) { throw new KeyNotFoundException($"state dict key '{key}': {e.Message}", e); }
            if (WeightSharing.Find(module, name) != null) continue;
            if (!module.HasParameter(name) || module[name] is not { } current)
                throw new ArgumentException($"state dict key '{key}': the model has no parameter '{stem}' to share");
            if (codebook.Dim != 1 || codebook.Numel < 1 || codebook.Numel > 1 << WeightSharing.MaxBits)
                throw new ArgumentException($"state dict key '{key}' must be 1-D with 1 to {1 << WeightSharing.MaxBits} values, got shape {Shapes.Format(codebook.Shape)}");
            if (!Shapes.Equal(indices.Shape, current.Shape))
                throw new ArgumentException($"state dict key '{stem}{SharedWeight.IndicesSuffix}' has shape {Shapes.Format(indices.Shape)} but parameter '{stem}' of the model has shape {Shapes.Format(current.Shape)}");
            Tensor? mask = null;
            if (!all.ContainsKey(stem + "_orig") && all.TryGetValue(stem + SharedWeight.MaskSuffix, out var m))
            {
                if (!Shapes.Equal(m.Shape, current.Shape))
                    throw new ArgumentException($"state dict key '{stem}{SharedWeight.MaskSuffix}' has shape {Shapes.Format(m.Shape)} but parameter '{stem}' of the model has shape {Shapes.Format(current.Shape)}");
                mask = m.Clone();
            }
            try { Tensor.ToIndices(indices.Data, codebook.Numel); }
            catch (IndexOutOfRangeException e) { throw new ArgumentException($"state dict key '{stem}{SharedWeight.IndicesSuffix}': {e.Message}", e); }
            plan.Add((stem, module, name, codebook.Clone(), indices.Clone(), mask));
        }
        foreach (var p in plan)
        {
            p.Module.DeleteAttribute(p.Name);
            WeightSharing.Install(p.Module, p.Name, p.Codebook, p.Indices, p.Mask);
        }
        return plan.Select(p => p.Stem).ToList();
    }
}
