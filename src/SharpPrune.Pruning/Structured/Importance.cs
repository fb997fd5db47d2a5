using SharpPrune.NN;

namespace SharpPrune.Pruning.Structured;

/// <summary>
/// Scores the channels of a group: higher means more important (kept first). Implement it (or pass a delegate to
/// <see cref="ChannelImportance.FromDelegate"/>) to use your own criterion.
/// </summary>
public interface IChannelImportance
{
    /// <summary>Called once before any group is scored, with the traced model (Taylor runs its batches here).</summary>
    void Prepare(Module model, ChannelGraph graph) { }

    /// <summary>One score per channel of <paramref name="group"/>, or null to leave the group unpruned.</summary>
    double[]? Score(ChannelGroup group);
}

/// <summary>How a coupled channel's score combines its members' scores (a residual channel has one per branch).</summary>
public enum GroupReduction
{
    /// <summary>Sum of the members' scores (Torch-Pruning's default for magnitude).</summary>
    Sum,
    /// <summary>Mean of the members' scores: a channel shared by many layers is not favoured for being shared.</summary>
    Mean,
}

/// <summary>
/// A criterion that scores each member (layer index) of a coupled channel and reduces them with
/// <see cref="Reduction"/>. Members it returns null for do not count; a channel with no scored member scores 0.
/// </summary>
public abstract class MemberImportance : IChannelImportance
{
    public GroupReduction Reduction { get; init; } = GroupReduction.Sum;

    public virtual void Prepare(Module model, ChannelGraph graph) { }

    /// <summary>The score of one layer index, or null when this criterion does not look at it.</summary>
    protected abstract double? ScoreMember(ChannelMember member);

    /// <summary>Null when no member of the group is scored (e.g. bn-scale on a group without BatchNorm).</summary>
    public virtual double[]? Score(ChannelGroup group)
    {
        var scores = new double[group.Channels.Count];
        bool any = false;
        for (int c = 0; c < scores.Length; c++)
        {
            double sum = 0; int n = 0;
            foreach (var m in group.Channels[c].Members)
                if (ScoreMember(m) is double s) { sum += s; n++; }
            if (n > 0) any = true;
            scores[c] = n == 0 ? 0 : Reduction == GroupReduction.Mean ? sum / n : sum;
        }
        return any ? scores : null;
    }

    /// <summary>A producer member's filter (weight only, flattened).</summary>
    protected static ReadOnlySpan<float> Filter(ChannelMember m)
    {
        var w = m.Module switch { Conv2d c => c.Weight, Linear l => l.Weight, _ => throw new InvalidOperationException($"{m}: not a Conv2d or Linear") };
        int per = w.Numel / w.Size(0);
        return w.Data.Slice(m.Index * per, per);
    }
}

/// <summary>The criteria by name, and the delegate adapter.</summary>
public static class ChannelImportance
{
    public static readonly IReadOnlyList<string> Names = new[] { "l1", "l2", "bn-scale", "fpgm", "random", "taylor" };

    /// <summary>l1, l2, bn-scale, fpgm or random (taylor needs batches: construct <see cref="TaylorImportance"/>).</summary>
    public static IChannelImportance ByName(string name, GroupReduction reduction = GroupReduction.Sum, Generator? generator = null) => name.ToLowerInvariant() switch
    {
        "l1" => new MagnitudeImportance(1) { Reduction = reduction },
        "l2" => new MagnitudeImportance(2) { Reduction = reduction },
        "bn-scale" => new BatchNormScaleImportance { Reduction = reduction },
        "fpgm" => new FpgmImportance { Reduction = reduction },
        "random" => new RandomImportance(generator),
        "taylor" => throw new ArgumentException("the taylor criterion needs data: construct TaylorImportance with a loss function"),
        _ => throw new ArgumentException($"unknown channel criterion '{name}'; valid: {string.Join(", ", Names)}"),
    };

    public static IChannelImportance FromDelegate(Func<ChannelGroup, double[]?> score) => new DelegateImportance(score);

    private sealed class DelegateImportance(Func<ChannelGroup, double[]?> score) : IChannelImportance
    {
        public double[]? Score(ChannelGroup group) => score(group);
    }
}

/// <summary>
/// Lp norm of each producing filter (a conv's weight[c], a linear's weight row; bias not included), as Li et al.
/// 2017 rank filters (p = 1) and the VGG repository's --po l1 does; a residual channel reduces its branches' norms.
/// </summary>
public sealed class MagnitudeImportance(double p) : MemberImportance
{
    public double P { get; } = p is 1 or 2 ? p : throw new ArgumentOutOfRangeException(nameof(p), $"p must be 1 or 2, got {p}");

    protected override double? ScoreMember(ChannelMember member)
    {
        if (!member.IsProducer) return null;
        double s = 0;
        foreach (var v in Filter(member)) s += P == 1 ? Math.Abs(v) : (double)v * v;
        return P == 1 ? s : Math.Sqrt(s);
    }
}

/// <summary>|γ| of the BatchNorm entries of the channel (network slimming, Liu et al. 2017). Groups without a
/// BatchNorm are not scored, so they are left unpruned.</summary>
public sealed class BatchNormScaleImportance : MemberImportance
{
    protected override double? ScoreMember(ChannelMember member) =>
        member.Role == ChannelRole.BatchNorm && member.Module is BatchNormBase { Weight: Tensor g } ? Math.Abs(g.Data[member.Index]) : null;
}

/// <summary>
/// Filter pruning via geometric median (He et al. 2019): a filter's score is the sum of its Euclidean distances to
/// the other filters of its layer; the filters nearest the geometric median (smallest sums) are the most
/// replaceable and go first.
/// </summary>
public sealed class FpgmImportance : MemberImportance
{
    private readonly Dictionary<Module, double[]> _distanceSums = new(ReferenceEqualityComparer.Instance);

    protected override double? ScoreMember(ChannelMember member)
    {
        if (!member.IsProducer) return null;
        if (!_distanceSums.TryGetValue(member.Module, out var sums)) _distanceSums[member.Module] = sums = DistanceSums(member);
        return sums[member.Index];
    }

    private static double[] DistanceSums(ChannelMember any)
    {
        var w = any.Module switch { Conv2d c => c.Weight, Linear l => l.Weight, _ => throw new InvalidOperationException() };
        int n = w.Size(0), per = w.Numel / n;
        var d = w.Data;
        var sums = new double[n];
        for (int i = 0; i < n; i++)
            for (int j = i + 1; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < per; k++) { double v = d[i * per + k] - d[j * per + k]; s += v * v; }
                s = Math.Sqrt(s);
                sums[i] += s; sums[j] += s;
            }
        return sums;
    }
}

/// <summary>Uniform random scores from a seeded generator (the baseline every criterion should beat).</summary>
public sealed class RandomImportance(Generator? generator = null) : IChannelImportance
{
    private readonly Generator _generator = generator ?? Generator.Default;

    public double[]? Score(ChannelGroup group)
    {
        var t = Tensor.Empty(group.Channels.Count);
        Init.Uniform_(t, 0f, 1f, _generator);
        return t.ToArray().Select(v => (double)v).ToArray();
    }
}

/// <summary>
/// First-order Taylor importance (Molchanov et al. 2019): for each batch, the channel's contribution to the loss
/// change if removed, (Σ w·∂L/∂w over its filter and bias)², summed over batches and reduced over the channel's
/// producing layers. <paramref name="losses"/> runs the model on a few batches and yields each scalar loss; it runs
/// in eval mode (BatchNorm uses, and does not update, its running statistics) and the gradients are zeroed after.
/// </summary>
public sealed class TaylorImportance(Func<Module, IEnumerable<Tensor>> losses) : MemberImportance
{
    private readonly Dictionary<Module, double[]> _scores = new(ReferenceEqualityComparer.Instance);

    public override void Prepare(Module model, ChannelGraph graph)
    {
        var producers = graph.LayerNames.Keys.Where(m => m is Conv2d or Linear).ToList();
        model.ZeroGrad();
        int batches = 0;
        var modes = model.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        model.Eval();
        try
        {
        foreach (var loss in losses(model))
        {
            if (loss.Numel != 1) throw new ArgumentException($"taylor: the loss function must yield scalars, got shape {Shapes.Format(loss.Shape)}");
            loss.Backward();
            foreach (var m in producers)
            {
                var (w, b) = m switch { Conv2d c => (c.Weight, c.Bias), Linear l => (l.Weight, l.Bias), _ => throw new InvalidOperationException() };
                if (w.Grad is null) continue;
                int n = w.Size(0), per = w.Numel / n;
                if (!_scores.TryGetValue(m, out var acc)) _scores[m] = acc = new double[n];
                var wd = w.Data; var gd = w.Grad.Data;
                for (int c = 0; c < n; c++)
                {
                    double s = 0;
                    for (int k = 0; k < per; k++) s += (double)wd[c * per + k] * gd[c * per + k];
                    if (b?.Grad is Tensor bg) s += (double)b.Data[c] * bg.Data[c];
                    acc[c] += s * s;
                }
            }
            model.ZeroGrad();
            batches++;
        }
        }
        finally { foreach (var (m, training) in modes) m.Train(training); }
        if (batches == 0) throw new ArgumentException("taylor: the loss function yielded no batches");
    }

    protected override double? ScoreMember(ChannelMember member) =>
        member.IsProducer && _scores.TryGetValue(member.Module, out var s) ? s[member.Index] : null;
}
