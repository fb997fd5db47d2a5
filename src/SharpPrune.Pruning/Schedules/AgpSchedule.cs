using System.Globalization;

namespace SharpPrune.Pruning.Schedules;

/// <summary>
/// Zhu &amp; Gupta 2017's automated gradual pruning schedule ("To prune, or not to prune"): from step
/// <see cref="StartStep"/> (t₀) to <see cref="EndStep"/> (t₀ + nΔt) the target sparsity rises as
/// <c>s_t = s_f + (s_i − s_f)(1 − (t − t₀)/(nΔt))³</c>, fast at first and slowly at the end; masks are updated every
/// <see cref="Frequency"/> (Δt) steps. Before t₀ nothing is pruned; after the end the sparsity stays at s_f.
/// Steps count optimizer steps (batches) from 0.
/// </summary>
public sealed record AgpSchedule
{
    public double InitialSparsity { get; }
    public double FinalSparsity { get; }
    public long StartStep { get; }
    public long EndStep { get; }
    public long Frequency { get; }

    public AgpSchedule(double initialSparsity, double finalSparsity, long startStep, long endStep, long frequency)
    {
        if (!(finalSparsity >= 0 && finalSparsity <= 1)) throw new ArgumentException($"final sparsity must be in [0, 1], got {F(finalSparsity)}");
        if (!(initialSparsity >= 0 && initialSparsity <= finalSparsity))
            throw new ArgumentException($"initial sparsity must be in [0, final sparsity {F(finalSparsity)}], got {F(initialSparsity)}");
        if (startStep < 0) throw new ArgumentException($"start step must be >= 0, got {startStep}");
        if (endStep < startStep) throw new ArgumentException($"end step ({endStep}) must not come before the start step ({startStep})");
        if (frequency < 1) throw new ArgumentException($"the mask update frequency must be >= 1 step, got {frequency}");
        (InitialSparsity, FinalSparsity, StartStep, EndStep, Frequency) = (initialSparsity, finalSparsity, startStep, endStep, frequency);
    }

    /// <summary>The target sparsity at <paramref name="step"/>.</summary>
    public double SparsityAt(long step)
    {
        if (step < StartStep) return 0;
        if (step >= EndStep) return FinalSparsity;
        double progress = (double)(step - StartStep) / (EndStep - StartStep);
        double r = 1 - progress;
        return FinalSparsity + (InitialSparsity - FinalSparsity) * r * r * r;
    }

    /// <summary>Whether masks are recomputed before <paramref name="step"/>: every Δt steps from t₀, and at the end step.</summary>
    public bool IsUpdateStep(long step) =>
        step >= StartStep && step <= EndStep && ((step - StartStep) % Frequency == 0 || step == EndStep);

    public override string ToString() => string.Format(CultureInfo.InvariantCulture,
        "agp {0:G4} -> {1:G4} over steps {2}..{3}, every {4}", InitialSparsity, FinalSparsity, StartStep, EndStep, Frequency);

    private static string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}
