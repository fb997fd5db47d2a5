namespace SharpPrune.Pruning.Schedules;

/// <summary>How the sparsity grows over the rounds of iterative pruning.</summary>
public enum IterativeShape
{
    /// <summary>The same share of the remaining weights each round (Han et al.; the lottery ticket's "p% per round").</summary>
    Geometric,

    /// <summary>Equal sparsity increments.</summary>
    Linear,

    /// <summary>Zhu &amp; Gupta's cubic curve over the rounds: big steps first, small ones last.</summary>
    Cubic,
}

/// <summary>
/// Round targets for iterative pruning (prune → fine-tune → prune more): the sparsity after each of
/// <see cref="Rounds"/> rounds, ending exactly at <see cref="FinalSparsity"/>.
/// </summary>
public sealed record IterativeSchedule
{
    public int Rounds { get; }
    public double FinalSparsity { get; }
    public IterativeShape Shape { get; }

    public IterativeSchedule(int rounds, double finalSparsity, IterativeShape shape = IterativeShape.Geometric)
    {
        if (rounds < 1) throw new ArgumentException($"rounds must be >= 1, got {rounds}");
        if (!(finalSparsity >= 0 && finalSparsity < 1)) throw new ArgumentException($"final sparsity must be in [0, 1), got {finalSparsity}");
        (Rounds, FinalSparsity, Shape) = (rounds, finalSparsity, shape);
    }

    /// <summary>The sparsity to reach in round <paramref name="round"/> (1-based).</summary>
    public double TargetAt(int round)
    {
        if (round < 1 || round > Rounds) throw new ArgumentOutOfRangeException(nameof(round), $"round must be in 1..{Rounds}, got {round}");
        if (round == Rounds) return FinalSparsity;
        double p = (double)round / Rounds;
        return Shape switch
        {
            IterativeShape.Geometric => 1 - Math.Pow(1 - FinalSparsity, p),
            IterativeShape.Linear => FinalSparsity * p,
            _ => FinalSparsity * (1 - Math.Pow(1 - p, 3)),
        };
    }

    /// <summary>All round targets, in order.</summary>
    public IReadOnlyList<double> Targets() => Enumerable.Range(1, Rounds).Select(TargetAt).ToList();

    /// <summary>The share of the still-unpruned weights round <paramref name="round"/> removes (PyTorch's meaning of a fractional amount on a pruned tensor).</summary>
    public double FractionOfRemainingAt(int round)
    {
        double before = round == 1 ? 0 : TargetAt(round - 1);
        return 1 - (1 - TargetAt(round)) / (1 - before);
    }
}
