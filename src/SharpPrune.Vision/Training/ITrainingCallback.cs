namespace SharpPrune.Vision.Training;

/// <summary>Where a training step stands: the epoch and batch (0-based) and the optimizer step counted from the run's start.</summary>
public readonly record struct TrainingStep(int Epoch, int Batch, int BatchesPerEpoch)
{
    /// <summary>0-based optimizer step since the start of the run (the same in a resumed run).</summary>
    public long Global => (long)Epoch * BatchesPerEpoch + Batch;
}

/// <summary>
/// A hook into <see cref="Trainer"/>'s loop that may change the model between steps, e.g. gradual pruning
/// updating masks every Δt steps. It must keep no state of its own that a resumed run would lack: everything it
/// changes has to live in the model (and so in the checkpoint).
/// </summary>
public interface ITrainingCallback
{
    /// <summary>Before the step's forward pass (the model is in training mode).</summary>
    void BeforeStep(TrainingStep step);
}
