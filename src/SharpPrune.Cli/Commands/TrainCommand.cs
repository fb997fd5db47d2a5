using System.CommandLine;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune train</c>: train a zoo model from scratch, continue an interrupted run (<c>--resume</c>), or retrain
/// from a checkpoint's weights (<c>--load</c>, e.g. a pruned model whose zeros stay zero).
/// </summary>
internal static class TrainCommand
{
    public static Command Create(CliContext ctx)
    {
        var o = new TrainOptions();
        var cmd = new Command("train", "Train a model; checkpoints last.safetensors / best.safetensors and log.jsonl go to --save");
        o.AddTo(cmd);
        SharpPruneCli.SetHandler(cmd, ctx, parse => Run(ctx, parse, o));
        return cmd;
    }

    private static int Run(CliContext ctx, ParseResult parse, TrainOptions o)
    {
        string? resume = parse.GetValue(o.Resume), load = parse.GetValue(o.Load);
        if (resume is not null && load is not null)
            throw new CliUsageException("--resume and --load cannot be combined: --resume continues a run, --load starts a new one from a checkpoint's weights");
        var plan = resume is not null ? TrainPlan.ForResume(ctx, parse, o, resume)
                 : load is not null ? TrainPlan.ForLoad(ctx, parse, o, load)
                 : TrainPlan.Fresh(parse, o);
        var cfg = plan.Config;
        var (train, test) = DataSets.Load(cfg.RecordedData()!, plan.InputShape, cfg.Model);

        var agp = GradualPruningCallback.For(plan.Model, cfg);
        var progress = new TrainingDisplay.Relay();
        var trainer = new Trainer(plan.Model, cfg, train, test, plan.SaveDir)
        {
            Progress = progress,
            Callback = agp,
            ExtraMetadata = plan.ExtraMetadata,
            StopAfterEpochs = parse.GetValue(o.StopAfter),
        };
        if (plan.ResumeFrom is not null) trainer.Resume(plan.ResumeFrom);

        if (plan.ResumeFrom is null && File.Exists(trainer.LastCheckpointPath))
            ctx.Err.WriteLine($"note: starting over in {plan.SaveDir}, replacing the run there (to continue it instead: --resume {plan.SaveDir})");
        ctx.Out.WriteLine(plan.Headline(trainer));
        var result = TrainingDisplay.Run(ctx, progress, trainer.Run);
        ctx.Out.WriteLine(result.CompletedEpochs < cfg.Epochs
            ? $"stopped after epoch {result.CompletedEpochs}/{cfg.Epochs}; continue with: sharpprune train --resume {plan.SaveDir}"
            : $"done: {TrainPlan.Epochs(cfg.Epochs)}, best test accuracy {result.BestAccuracy:F2}%");
        if (agp is not null) ctx.Out.WriteLine(agp.Describe());
        ctx.Out.WriteLine($"checkpoints: {result.LastCheckpoint}, {result.BestCheckpoint}; log: {trainer.LogPath}");
        return 0;
    }
}
