using System.Globalization;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Schedules;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>train --agp</c>: a <see cref="GradualPruner"/> driven by the trainer's steps. The schedule needs the batches
/// per epoch, which the first step tells; the masks live in the model, so a resumed run picks up where it was.
/// </summary>
internal sealed class GradualPruningCallback : ITrainingCallback
{
    private readonly AgpSpec _spec;
    private readonly List<(Module Module, string Name)> _targets;
    private readonly int _epochs;
    private GradualPruner? _pruner;

    private GradualPruningCallback(AgpSpec spec, List<(Module, string)> targets, int epochs) =>
        (_spec, _targets, _epochs) = (spec, targets, epochs);

    /// <summary>The callback for <paramref name="cfg"/>'s <c>--agp</c>, with the targets reparametrised; null without one.</summary>
    public static GradualPruningCallback? For(Module model, TrainConfig cfg)
    {
        if (cfg.Agp is null) return null;
        AgpSpec spec;
        try { spec = AgpSpec.Parse(cfg.Agp); }
        catch (ArgumentException e) { throw new CliUsageException("--agp: " + e.Message); }
        var targets = Sparsity.ConvAndLinearWeights(model, spec.Selects);
        if (targets.Count == 0)
            throw new CliUsageException($"--agp layers={spec.Layers} matches none of the Conv2d/Linear layers");
        var cb = new GradualPruningCallback(spec, targets, cfg.Epochs);
        GradualPruner.Attach(targets);
        return cb;
    }

    public void BeforeStep(TrainingStep step)
    {
        _pruner ??= new GradualPruner(_targets, _spec.ToSchedule(step.BatchesPerEpoch, _epochs), _spec.Global);
        _pruner.Step(step.Global);
    }

    public string Describe() => string.Format(CultureInfo.InvariantCulture, "gradual pruning: {0} of {1} layers' weights pruned ({2})",
        (Sparsity.Of(_targets) * 100).ToString("F2", CultureInfo.InvariantCulture) + "%", _targets.Count,
        _pruner?.Schedule.ToString() ?? "no step run");
}
