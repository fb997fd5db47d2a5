using SharpPrune.NN;

namespace SharpPrune.Pruning.Schedules;

/// <summary>
/// Applies an <see cref="AgpSchedule"/> during training: call <see cref="Step"/> before every optimizer step; on
/// update steps the targets are pruned by magnitude to the schedule's sparsity (per tensor, or across all of them
/// with <c>global</c>). Masks only grow: an entry once pruned stays pruned (its gradient is zero through the mask).
/// The pruner holds no state besides the masks in the model, so a run resumed from a checkpoint (masks restored)
/// continues exactly where it was.
/// </summary>
public sealed class GradualPruner
{
    private readonly IReadOnlyList<(Module Module, string Name)> _targets;

    public AgpSchedule Schedule { get; }
    public bool Global { get; }

    public GradualPruner(IReadOnlyList<(Module Module, string Name)> targets, AgpSchedule schedule, bool global)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentNullException.ThrowIfNull(schedule);
        if (targets.Count == 0) throw new ArgumentException("gradual pruning needs at least one tensor to prune");
        _targets = targets;
        Schedule = schedule;
        Global = global;
    }

    /// <summary>
    /// Reparametrises the targets not pruned yet with a mask of ones, so the model's state-dict keys
    /// (<c>weight_orig</c>, <c>weight_mask</c>) stay the same through the run. Call once before training.
    /// </summary>
    public void Attach() => Attach(_targets);

    /// <summary>As <see cref="Attach()"/> for any tensors: a mask of ones on those not pruned yet.</summary>
    public static void Attach(IEnumerable<(Module Module, string Name)> targets)
    {
        foreach (var (m, name) in targets)
            if (BasePruningMethod.FindHook(m, name).Hook is null) Prune.Identity(m, name);
    }

    /// <summary>Before optimizer step <paramref name="step"/> (0-based): updates the masks if it is an update step. Returns whether it did.</summary>
    public bool Step(long step)
    {
        if (!Schedule.IsUpdateStep(step)) return false;
        Sparsity.PruneTo(_targets, Schedule.SparsityAt(step), Global);
        return true;
    }

    /// <summary>Current share of the targets' entries that are masked.</summary>
    public double CurrentSparsity => Sparsity.Of(_targets.ToList());
}
