using System.Diagnostics;
using System.Globalization;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli;

/// <summary>
/// Plain training progress (see <see cref="TrainingDisplay"/> for the progress bars): the per-epoch lines on
/// stdout and, when stderr is a terminal and <paramref name="statusLine"/> is on, one status line on stderr redrawn
/// in place (at most a few times a second); when stderr is redirected, nothing per batch is written.
/// </summary>
internal sealed class ConsoleProgress(CliContext ctx, bool statusLine = true) : ITrainingProgress
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly Stopwatch _sinceDraw = Stopwatch.StartNew();
    private int _drawnWidth;
    private int _epochs;

    public void EpochStarted(int epoch, int epochs, int batches, double lr) => _epochs = epochs;

    public void BatchDone(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond)
    {
        if (!statusLine || !ctx.ErrIsTerminal || (_sinceDraw.ElapsedMilliseconds < 200 && batch != batches)) return;
        _sinceDraw.Restart();
        string line = string.Format(Inv, "epoch {0}/{1} [{2}/{3}] loss {4:F4} acc {5:F2}% {6:F0} img/s",
            epoch, _epochs, batch, batches, loss, accuracy, imagesPerSecond);
        Draw(line);
    }

    public void EpochDone(EpochLog e, bool isBest)
    {
        Clear();
        ctx.Out.WriteLine(Format(e, _epochs, isBest));
    }

    public static string Format(EpochLog e, int epochs, bool isBest) => string.Format(Inv,
        "epoch {0}/{1}  lr {2:G4}  train loss {3:F4} acc {4:F2}%  test loss {5:F4} acc {6:F2}%  {7:F1}s  {8:F0} img/s{9}",
        e.Epoch, epochs, e.Lr, e.TrainLoss, e.TrainAcc, e.TestLoss, e.TestAcc, e.EpochSeconds, e.ImagesPerSecond,
        isBest ? "  *best" : "");

    private void Draw(string line)
    {
        int pad = Math.Max(0, _drawnWidth - line.Length);
        ctx.Err.Write("\r" + line + new string(' ', pad));
        ctx.Err.Flush();
        _drawnWidth = line.Length;
    }

    private void Clear()
    {
        if (_drawnWidth == 0) return;
        ctx.Err.Write("\r" + new string(' ', _drawnWidth) + "\r");
        ctx.Err.Flush();
        _drawnWidth = 0;
    }
}
