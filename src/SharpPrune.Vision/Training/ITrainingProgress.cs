namespace SharpPrune.Vision.Training;

/// <summary>Receives progress from <see cref="Trainer"/> (a console status line, a test recorder…).</summary>
public interface ITrainingProgress
{
    /// <summary>An epoch (1-based) begins; <paramref name="batches"/> training batches follow.</summary>
    void EpochStarted(int epoch, int epochs, int batches, double lr);

    /// <summary>After each training batch: running means over the epoch so far.</summary>
    void BatchDone(int epoch, int batch, int batches, double loss, double accuracy, double imagesPerSecond);

    /// <summary>The epoch's training and evaluation are done and its checkpoint is written.</summary>
    void EpochDone(EpochLog entry, bool isBest);
}
