using System.Text.RegularExpressions;
using SharpPrune.NN;

namespace SharpPrune.Pruning.Structured;

/// <summary>What <see cref="Shrink.Apply"/> removes and how it picks.</summary>
public sealed class ShrinkOptions
{
    /// <summary>Fraction of each group's channels to remove (the VGG repository's --ar), or of all prunable
    /// channels with <see cref="Global"/>. In [0, 1).</summary>
    public double Ratio { get; init; } = 0.5;

    /// <summary>Per-group ratios keyed by a producing layer of the group (a conv/linear whose outputs they are, e.g.
    /// "features.0"); groups not named use <see cref="Ratio"/>.</summary>
    public IReadOnlyDictionary<string, double>? LayerRatios { get; init; }

    /// <summary>Rank channels of all groups together (scores divided by their group's mean, so layers of different
    /// scale compare) instead of removing <see cref="Ratio"/> from each group.</summary>
    public bool Global { get; init; }

    /// <summary>With <see cref="Global"/>: no group loses more than this fraction of its channels.</summary>
    public double MaxLayerRatio { get; init; } = 0.9;

    /// <summary>Only groups with a producing layer whose name matches are pruned (null: all).</summary>
    public Regex? Layers { get; init; }

    /// <summary>Kept channel counts are rounded up to a multiple of this (e.g. 8 for kernel efficiency).</summary>
    public int RoundTo { get; init; } = 1;

    /// <summary>The criterion (default L1 norm of filters, Li et al. 2017).</summary>
    public IChannelImportance Importance { get; init; } = new MagnitudeImportance(1);

    internal void Validate()
    {
        if (!(Ratio >= 0 && Ratio < 1)) throw new ArgumentOutOfRangeException(nameof(Ratio), $"ratio must be in [0, 1), got {Ratio}");
        if (!(MaxLayerRatio > 0 && MaxLayerRatio < 1)) throw new ArgumentOutOfRangeException(nameof(MaxLayerRatio), $"max layer ratio must be in (0, 1), got {MaxLayerRatio}");
        if (RoundTo < 1) throw new ArgumentOutOfRangeException(nameof(RoundTo), $"round-to must be >= 1, got {RoundTo}");
        if (LayerRatios is not null)
            foreach (var (k, v) in LayerRatios)
                if (!(v >= 0 && v < 1)) throw new ArgumentOutOfRangeException(nameof(LayerRatios), $"ratio for '{k}' must be in [0, 1), got {v}");
    }
}

/// <summary>The removed indices of one layer tensor role, e.g. features.0 ConvOut [3, 7, …].</summary>
public sealed record RemovedChannels(string Layer, ChannelRole Role, IReadOnlyList<int> Indices);

/// <summary>The shrunk model (the same object, its layers replaced) and what was removed.</summary>
public sealed class ShrinkResult
{
    internal ShrinkResult(Module model, IReadOnlyList<RemovedChannels> removed, IReadOnlyList<(ChannelGroup Group, int Removed)> groups)
    {
        Model = model; Removed = removed; Groups = groups;
    }

    public Module Model { get; }
    /// <summary>Every (layer, role) that lost indices, with the indices in the original numbering.</summary>
    public IReadOnlyList<RemovedChannels> Removed { get; }
    /// <summary>Every traced group with the number of its channels removed.</summary>
    public IReadOnlyList<(ChannelGroup Group, int Removed)> Groups { get; }

    /// <summary>Removed output channels per producing layer (conv filters, linear rows), original numbering.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<int>> RemovedOutputChannels =>
        Removed.Where(r => r.Role is ChannelRole.ConvOut or ChannelRole.LinearOut or ChannelRole.Depthwise)
            .ToDictionary(r => r.Layer, r => r.Indices);
}

/// <summary>
/// Structured pruning that makes the network smaller: channels are removed for real (new Conv2d, BatchNorm,
/// Linear layers with fewer channels and the surviving weights and statistics), so the model computes less.
/// </summary>
public static class Shrink
{
    /// <summary>
    /// Traces <paramref name="model"/> on <paramref name="exampleInput"/> (one sample is enough), scores and removes
    /// channels as <paramref name="options"/> say, and replaces the affected layers in place. Pruning masks
    /// (<c>weight_orig</c>/<c>weight_mask</c>) are made permanent first. The model's output channels are never removed.
    /// </summary>
    public static ShrinkResult Apply(Module model, Tensor exampleInput, ShrinkOptions? options = null)
    {
        options ??= new ShrinkOptions();
        options.Validate();
        MakeMasksPermanent(model);
        var graph = ChannelGraph.Build(model, exampleInput);
        options.Importance.Prepare(model, graph);
        var plan = Plan(graph, options);
        return Execute(model, graph, plan);
    }

    /// <summary>
    /// Compacts a channel-masked model (<c>ln-structured</c>, <c>random-structured</c>, or any zeroed filters):
    /// every coupled channel whose producing filters are all zero is removed. Such a channel's bias or BatchNorm
    /// shift (β) still fed the next layer a constant in the masked model; it is dropped, as the VGG repository's
    /// transplant drops it, so outputs can differ from the masked model's (see the README).
    /// </summary>
    public static ShrinkResult Compact(Module model, Tensor exampleInput)
    {
        MakeMasksPermanent(model);
        var graph = ChannelGraph.Build(model, exampleInput);
        var plan = new Dictionary<ChannelGroup, int[]>();
        foreach (var g in graph.Groups.Where(g => g.IsPrunable))
        {
            var zero = Enumerable.Range(0, g.Channels.Count).Where(c =>
            {
                var producers = g.Channels[c].Producers.ToList();
                return producers.Count > 0 && producers.All(IsZeroProducer);
            }).ToArray();
            if (zero.Length == g.Channels.Count) zero = zero[1..]; // never a layer of width 0
            if (zero.Length > 0) plan[g] = zero;
        }
        return Execute(model, graph, plan);
    }

    private static bool IsZeroProducer(ChannelMember m)
    {
        var w = m.Module switch { Conv2d c => c.Weight, Linear l => l.Weight, _ => throw new InvalidOperationException() };
        int per = w.Numel / w.Size(0);
        foreach (var v in w.Data.Slice(m.Index * per, per)) if (v != 0) return false;
        return true;
    }

    private static void MakeMasksPermanent(Module model)
    {
        foreach (var m in model.Modules())
            foreach (var name in Prune.Hooks(m).Select(h => h.TensorName!).ToList())
                Prune.Remove(m, name);
    }

    /// <summary>Which channels (indices into <see cref="ChannelGroup.Channels"/>) each group loses.</summary>
    public static Dictionary<ChannelGroup, int[]> Plan(ChannelGraph graph, ShrinkOptions options)
    {
        var candidates = new List<(ChannelGroup Group, double[] Scores)>();
        foreach (var g in graph.Groups)
        {
            if (!g.IsPrunable) continue;
            if (options.Layers is not null && !g.NamingLayers.Any(options.Layers.IsMatch)) continue;
            var scores = options.Importance.Score(g);
            if (scores is null) continue;
            if (scores.Length != g.Channels.Count)
                throw new InvalidOperationException($"criterion returned {scores.Length} scores for group '{g.Name}' of {g.Channels.Count} channels");
            candidates.Add((g, scores));
        }
        var plan = new Dictionary<ChannelGroup, int[]>();
        if (!options.Global)
        {
            foreach (var (g, scores) in candidates)
            {
                double ratio = RatioFor(g, options);
                int n = g.Channels.Count;
                int remove = n - RoundKept(n - (int)Math.Floor(n * ratio + 1e-9), n, options.RoundTo);
                if (remove > 0) plan[g] = Lowest(scores, remove);
            }
            return plan;
        }
        int total = candidates.Sum(c => c.Group.Channels.Count);
        int target = (int)Math.Floor(total * options.Ratio + 1e-9);
        var ranked = candidates.SelectMany(c =>
        {
            double mean = c.Scores.Average();
            return c.Scores.Select((s, i) => (Score: mean > 0 ? s / mean : s, c.Group, Index: i));
        }).OrderBy(e => e.Score).ThenBy(e => e.Index).ToList();
        var chosen = candidates.ToDictionary(c => c.Group, _ => new List<int>());
        int removed = 0;
        foreach (var e in ranked)
        {
            if (removed >= target) break;
            var list = chosen[e.Group];
            if (list.Count + 1 > Math.Floor(e.Group.Channels.Count * options.MaxLayerRatio + 1e-9)) continue;
            list.Add(e.Index);
            removed++;
        }
        foreach (var (g, scores) in candidates)
        {
            int n = g.Channels.Count;
            int remove = n - RoundKept(n - chosen[g].Count, n, options.RoundTo);
            if (remove > 0) plan[g] = chosen[g].Take(remove).ToArray(); // in ascending score order
        }
        return plan;
    }

    private static double RatioFor(ChannelGroup g, ShrinkOptions options)
    {
        if (options.LayerRatios is not null)
            foreach (var layer in g.NamingLayers)
                if (options.LayerRatios.TryGetValue(layer, out double r)) return r;
        return options.Ratio;
    }

    private static int RoundKept(int kept, int n, int roundTo)
    {
        kept = Math.Max(kept, 1);
        if (roundTo > 1) kept = (kept + roundTo - 1) / roundTo * roundTo;
        return Math.Min(kept, n);
    }

    private static int[] Lowest(double[] scores, int count) =>
        Enumerable.Range(0, scores.Length).OrderBy(i => scores[i]).ThenBy(i => i).Take(count).ToArray();

    /// <summary>Removes the planned channels: every touched layer is replaced by a smaller copy.</summary>
    public static ShrinkResult Execute(Module model, ChannelGraph graph, IReadOnlyDictionary<ChannelGroup, int[]> plan)
    {
        var removed = new Dictionary<(Module Module, ChannelRole Role), SortedSet<int>>();
        foreach (var (g, indices) in plan)
            foreach (var c in indices)
                foreach (var m in g.Channels[c].Members)
                {
                    if (!removed.TryGetValue((m.Module, m.Role), out var set)) removed[(m.Module, m.Role)] = set = new SortedSet<int>();
                    set.Add(m.Index);
                }
        var replacements = new Dictionary<Module, Module>(ReferenceEqualityComparer.Instance);
        foreach (var module in removed.Keys.Select(k => k.Module).Distinct())
            replacements[module] = LayerSurgery.Shrunk(module, graph.LayerNames[module], role => removed.TryGetValue((module, role), out var s) ? s : null);
        foreach (var (_, parent) in model.NamedModules().ToList())
            foreach (var (childName, child) in parent.NamedChildren().ToList())
                if (replacements.TryGetValue(child, out var replacement)) parent.RegisterModule(childName, replacement);
        if (replacements.ContainsKey(model)) throw new NotSupportedException("structured pruning cannot replace the model itself (a bare layer); wrap it in a Sequential");
        var list = removed.Select(kv => new RemovedChannels(graph.LayerNames[kv.Key.Module], kv.Key.Role, kv.Value.ToArray()))
            .OrderBy(r => r.Layer, StringComparer.Ordinal).ThenBy(r => r.Role).ToList();
        var groups = graph.Groups.Select(g => (g, plan.TryGetValue(g, out var p) ? p.Length : 0)).ToList();
        return new ShrinkResult(model, list, groups);
    }
}
