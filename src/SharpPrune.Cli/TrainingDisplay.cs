using Spectre.Console;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli;

/// <summary>
/// Chooses how training progress is shown: Spectre.Console progress bars (epochs and batches, with ETA, loss,
/// accuracy and images/s) on an interactive terminal, plain per-epoch lines (<see cref="ConsoleProgress"/>)
/// when output is redirected or <c>--no-progress</c> is given.
/// </summary>
internal static class TrainingDisplay
{
    /// <summary>Runs <paramref name="body"/> with the progress sink to hand to the trainer(s).</summary>
    public static T Run<T>(CliContext ctx, bool noProgress, Func<ITrainingProgress, T> body)
    {
        if (noProgress || !ctx.IsInteractive) return body(new ConsoleProgress(ctx, statusLine: !noProgress));
        T result = default!;
        AnsiConsole.Progress()
            .AutoClear(true)
            .HideCompleted(false)
            .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(),
                     new ElapsedTimeColumn(), new RemainingTimeColumn(), new SpinnerColumn())
            .Start(pc => result = body(new SpectreProgress(pc)));
        return result;
    }

    /// <summary>
    /// Hands a trainer's progress on to whatever display is current: the trainer (whose <c>Progress</c> is set at
    /// construction) is built before the display starts.
    /// </summary>
    public sealed class Relay : ITrainingProgress
    {
        public ITrainingProgress? Target { get; set; }
        public void EpochStarted(int epoch, int epochs, int batches, double lr) => Target?.EpochStarted(epoch, epochs, batches, lr);
        public void BatchDone(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond) =>
            Target?.BatchDone(epoch, batch, batches, loss, accuracy, imagesPerSecond);
        public void EpochDone(EpochLog entry, bool isBest) => Target?.EpochDone(entry, isBest);
    }

    /// <summary>Runs <paramref name="train"/> (e.g. <c>trainer.Run</c>) with <paramref name="relay"/> showing its progress.</summary>
    public static T Run<T>(CliContext ctx, Relay relay, Func<T> train) =>
        Run(ctx, ctx.NoProgressGiven, p => { relay.Target = p; try { return train(); } finally { relay.Target = null; } });

    /// <summary>Two bars: the run's epochs and the current epoch's batches; finished epochs print as lines above.</summary>
    private sealed class SpectreProgress(ProgressContext pc) : ITrainingProgress
    {
        private ProgressTask? _epochs, _batches;
        private int _epochCount;

        public void EpochStarted(int epoch, int epochs, int batches, double lr)
        {
            _epochCount = epochs;
            _epochs ??= pc.AddTask("epochs", maxValue: epochs);
            _epochs.MaxValue = epochs;
            _epochs.Value = epoch - 1;
            _epochs.Description = $"epoch {epoch}/{epochs}";
            _batches ??= pc.AddTask("batches", maxValue: batches);
            _batches.MaxValue = batches;
            _batches.Value = 0;
            _batches.Description = $"lr {lr:G4}";
        }

        public void BatchDone(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond)
        {
            if (_batches is null) return;
            _batches.Value = batch;
            _batches.Description = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"loss {loss:F4}  acc {accuracy:F2}%  {imagesPerSecond:F0} img/s");
        }

        public void EpochDone(EpochLog entry, bool isBest)
        {
            _epochs?.Increment(1);
            AnsiConsole.MarkupLine(Markup.Escape(ConsoleProgress.Format(entry, _epochCount, isBest)));
        }
    }
}
