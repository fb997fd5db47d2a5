using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// Pruning to a target sparsity, as schedules need it: "make 60% of these tensors zero", whatever an earlier
/// pruning already removed. Sparsity counts the zeros of the masks (a tensor never pruned has none).
/// </summary>
public static class Sparsity
{
    /// <summary>Entries of <c>module[name]</c> its mask removes (0 when it is not pruned).</summary>
    public static long Pruned(Module module, string name) =>
        BasePruningMethod.FindHook(module, name).Hook is null || !module.HasBuffer(name + "_mask") ? 0
            : module[name + "_mask"]!.Numel - module[name + "_mask"]!.CountNonZero();

    /// <summary>Total size of the tensors.</summary>
    public static long Size(IEnumerable<(Module Module, string Name)> targets) =>
        targets.Sum(t => (long)BasePruningMethod.EffectiveTensor(t.Module, t.Name, BasePruningMethod.FindHook(t.Module, t.Name).Hook != null).Numel);

    /// <summary>Share of the entries of <paramref name="targets"/> their masks remove, in [0, 1].</summary>
    public static double Of(IReadOnlyCollection<(Module Module, string Name)> targets)
    {
        long size = Size(targets);
        return size == 0 ? 0 : (double)targets.Sum(t => Pruned(t.Module, t.Name)) / size;
    }

    /// <summary>
    /// Prunes by magnitude until <paramref name="sparsity"/> of the entries are masked: per tensor (each tensor
    /// reaches the sparsity) or, with <paramref name="global"/>, across all of them (smallest magnitudes overall,
    /// so layers end up with different sparsities). Entries already pruned stay pruned; a target at or below the
    /// current sparsity prunes nothing. Counts round half to even, as PyTorch's amounts.
    /// </summary>
    public static void PruneTo(IReadOnlyList<(Module Module, string Name)> targets, double sparsity, bool global)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (targets.Count == 0) throw new ArgumentException("no tensors to prune");
        if (!(sparsity >= 0 && sparsity <= 1)) throw new ArgumentException($"sparsity must be in [0, 1], got {sparsity}");
        if (global)
        {
            long need = Target(Size(targets), sparsity) - targets.Sum(t => Pruned(t.Module, t.Name));
            if (need > 0) Prune.GlobalUnstructured(targets, new L1Unstructured(Amount.Absolute(checked((int)need))));
            return;
        }
        var plan = new List<(Module, string, int)>();
        foreach (var (m, name) in targets)
        {
            var (_, hook, current) = BasePruningMethod.Inspect(m, name); // all checked before any is pruned
            long need = Target(current.Numel, sparsity) - Pruned(m, name);
            if (need > 0) plan.Add((m, name, (int)need));
        }
        foreach (var (m, name, need) in plan)
            BasePruningMethod.Apply(m, name, new L1Unstructured(Amount.Absolute(need)));
    }

    private static long Target(long size, double sparsity) => (long)Math.Round(sparsity * size, MidpointRounding.ToEven);

    /// <summary>The weights of every Conv2d and Linear layer of <paramref name="model"/>, in module order.</summary>
    public static List<(Module Module, string Name)> ConvAndLinearWeights(Module model, Func<string, bool>? layerFilter = null) =>
        model.NamedModules().Where(m => m.Module is Conv2d or Linear && (layerFilter is null || layerFilter(m.Name)))
             .Select(m => (m.Module, "weight")).ToList();
}
