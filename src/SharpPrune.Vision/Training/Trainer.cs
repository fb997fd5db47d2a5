using System.Diagnostics;
using SharpPrune.IO;
using SharpPrune.Kernels;
using SharpPrune.NN;
using SharpPrune.Optim;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Models;

namespace SharpPrune.Vision.Training;

/// <summary>What a finished (or stopped) run left behind.</summary>
public sealed record TrainResult(int CompletedEpochs, double BestAccuracy, EpochLog? LastEpoch, string LastCheckpoint, string BestCheckpoint);

/// <summary>
/// The train/eval loop. Per epoch: re-seed every random stream from (seed, epoch), train over the loader's
/// batches (forward, cross-entropy, backward, optimizer step), step the scheduler, evaluate on the test set,
/// write <c>last.safetensors</c> (model + optimizer + scheduler) and, when test accuracy improves,
/// <c>best.safetensors</c> (model only), both atomically, then append a line to <c>log.jsonl</c>.
/// Because nothing random carries over from one epoch to the next, a run resumed from <c>last.safetensors</c>
/// ends with exactly the weights of an uninterrupted one (given the same kernel thread count).
/// A pruned model trains as is: its masks are applied by the pruning pre-hooks, the optimizer updates
/// <c>weight_orig</c>, and the masked entries stay zero in the effective weights.
/// </summary>
public sealed class Trainer
{
    private readonly Module _model;
    private readonly DataLoader _trainLoader, _testLoader;
    private readonly string _saveDir;
    private readonly Dropout[] _dropouts;

    public Trainer(Module model, TrainConfig config, IImageDataset train, IImageDataset test, string saveDir)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        if (train.NumClasses != config.NumClasses)
            throw new ArgumentException($"{train.Name} has {train.NumClasses} classes but the model is built for {config.NumClasses}");
        _model = model;
        Config = config;
        _saveDir = saveDir;
        var trainSet = DatasetLimit.Take(train, config.LimitTrain);
        var testSet = DatasetLimit.Take(test, config.LimitTest);
        _trainLoader = new DataLoader(trainSet, config.BatchSize, shuffle: true, Transforms.Train(config.Dataset), config.Seed);
        _testLoader = new DataLoader(testSet, config.BatchSize, shuffle: false, Transforms.Test(config.Dataset), config.Seed);
        _dropouts = model.Modules().OfType<Dropout>().ToArray();
        Optimizer = Optimizers.Create(config, model.Parameters());
        Scheduler = LrSchedule.Parse(config.Schedule, config.Epochs).Create(Optimizer);
    }

    public TrainConfig Config { get; }
    public Optimizer Optimizer { get; }
    public LRScheduler? Scheduler { get; }
    public ITrainingProgress? Progress { get; init; }

    /// <summary>Metadata copied into every checkpoint before the trainer's own keys (e.g. what a pruned start point recorded).</summary>
    public IReadOnlyDictionary<string, string>? ExtraMetadata { get; init; }

    /// <summary>Called before every training step (e.g. gradual pruning); see <see cref="ITrainingCallback"/>.</summary>
    public ITrainingCallback? Callback { get; init; }

    /// <summary>Stop once this many epochs are complete, as if interrupted (the checkpoint is resumable).</summary>
    public int? StopAfterEpochs { get; init; }

    public int CompletedEpochs { get; private set; }
    public double BestAccuracy { get; private set; } = double.NegativeInfinity;
    public string LastCheckpointPath => Path.Combine(_saveDir, CheckpointKeys.LastFile);
    public string BestCheckpointPath => Path.Combine(_saveDir, CheckpointKeys.BestFile);
    public string LogPath => Path.Combine(_saveDir, EpochLogFile.FileName);
    public int TrainImages => _trainLoader.Dataset.Count;
    public int TestImages => _testLoader.Dataset.Count;

    /// <summary>
    /// Continues from a checkpoint written by this trainer: weights, optimizer state (momentum buffers, step
    /// counts, learning rate), scheduler state, epoch count and best accuracy. A pruned
    /// model must already be reparametrised to match the checkpoint's keys.
    /// </summary>
    public void Resume(CheckpointData checkpoint)
    {
        if (!checkpoint.HasOptimizer)
            throw new InvalidDataException($"{checkpoint.SourceName} holds no optimizer state and cannot be resumed (best.safetensors is weights only; resume from {CheckpointKeys.LastFile})");
        int epoch = CheckpointKeys.ParseInt(checkpoint, CheckpointKeys.Epoch);
        if (epoch < 0 || epoch > Config.Epochs)
            throw new InvalidDataException($"{checkpoint.SourceName}: it completed {epoch} epochs, outside 0..{Config.Epochs} of this run");
        checkpoint.Restore(_model, Optimizer, Scheduler, strict: true);
        if (Scheduler is null && checkpoint.HasScheduler)
            throw new InvalidDataException($"{checkpoint.SourceName} has scheduler state but the run's schedule is '{Config.Schedule}'");
        CompletedEpochs = epoch;
        BestAccuracy = CheckpointKeys.ParseDouble(checkpoint, CheckpointKeys.BestAcc);
        _resumedFrom = checkpoint;
        _bestEpoch = checkpoint.Get(CheckpointKeys.BestEpoch) is null ? null : CheckpointKeys.ParseInt(checkpoint, CheckpointKeys.BestEpoch);
    }

    private CheckpointData? _resumedFrom;

    /// <summary>Trains the remaining epochs; returns when done or after <see cref="StopAfterEpochs"/>.</summary>
    public TrainResult Run()
    {
        Directory.CreateDirectory(_saveDir);
        // A process killed while writing leaves its temp files; nothing else would ever remove them.
        foreach (var target in new[] { LastCheckpointPath, BestCheckpointPath, LogPath }) AtomicFile.DeleteStaleTemps(target);
        // Lines after the checkpoint we continue from would otherwise be repeated by the re-run epochs.
        if (CompletedEpochs > 0)
        {
            EpochLogFile.TruncateAfter(LogPath, CompletedEpochs);
            RepairAfterCrash();
        }
        else if (File.Exists(LogPath)) File.Delete(LogPath);
        EpochLog? last = null;
        while (CompletedEpochs < Config.Epochs && !(CompletedEpochs >= StopAfterEpochs))
            last = RunEpoch(CompletedEpochs);
        return new TrainResult(CompletedEpochs, BestAccuracy, last, LastCheckpointPath, BestCheckpointPath);
    }

    /// <summary>
    /// An epoch ends by writing last, then best (when it improved), then the log line. A crash after last leaves the
    /// others behind; in the final epoch nothing re-runs to rewrite them. The resumed checkpoint records whether its
    /// epoch was the best and its log line, so this brings best and the log to what an uninterrupted run ends with.
    /// </summary>
    private void RepairAfterCrash()
    {
        if (_resumedFrom is not { } ckpt) return;
        if (ckpt.Get(CheckpointKeys.BestEpoch) is not null && CheckpointKeys.ParseInt(ckpt, CheckpointKeys.BestEpoch) == CompletedEpochs
            && BestCheckpointEpoch() != CompletedEpochs)
            Checkpoint.Save(BestCheckpointPath, _model, null, null, Metadata(CheckpointKeys.ParseDouble(ckpt, CheckpointKeys.TestAcc), CompletedEpochs, null));
        if (ckpt.Get(CheckpointKeys.EpochLog) is { } line
            && !(File.Exists(LogPath) && EpochLogFile.Read(LogPath).Any(e => e.Epoch == CompletedEpochs)))
        {
            EpochLog entry;
            try { entry = EpochLog.FromJson(line); }
            catch (System.Text.Json.JsonException e) { throw new InvalidDataException($"{ckpt.SourceName}: metadata '{CheckpointKeys.EpochLog}' is not an epoch record ({e.Message})", e); }
            EpochLogFile.Append(LogPath, entry);
        }
    }

    /// <summary>The epoch best.safetensors was saved at, or null when it is missing or unreadable.</summary>
    private int? BestCheckpointEpoch()
    {
        if (!File.Exists(BestCheckpointPath)) return null;
        try
        {
            var best = Checkpoint.Load(BestCheckpointPath);
            return best.Get(CheckpointKeys.Epoch) is null ? null : CheckpointKeys.ParseInt(best, CheckpointKeys.Epoch);
        }
        catch (Exception e) when (e is IOException or InvalidDataException) { return null; }
    }

    private EpochLog RunEpoch(int epoch)
    {
        var clock = Stopwatch.StartNew();
        ReseedRandomStreams(epoch);
        double lr = Optimizer.LearningRate;
        int batches = _trainLoader.BatchesPerEpoch;
        Progress?.EpochStarted(epoch + 1, Config.Epochs, batches, lr);
        _model.Train();
        double lossSum = 0;
        int correct = 0, seen = 0, b = 0;
        foreach (var batch in _trainLoader.Epoch(epoch))
        {
            Callback?.BeforeStep(new TrainingStep(epoch, b, batches));
            Optimizer.ZeroGrad();
            var logits = _model.Forward(batch.Images);
            var loss = F.CrossEntropy(logits, batch.Labels, Config.LabelSmoothing);
            float value = loss.Item();
            if (!float.IsFinite(value)) throw new TrainingDivergedException(epoch + 1, b + 1, "loss", value, lr);
            loss.Backward();
            if (Config.BnL1 > 0) AddBatchNormL1Gradient((float)Config.BnL1);
            Optimizer.Step();
            lossSum += (double)value * batch.Count;
            correct += Metrics.CountCorrect(logits, batch.Labels);
            seen += batch.Count;
            b++;
            Progress?.BatchDone(epoch + 1, b, batches, lossSum / seen, 100.0 * correct / seen, seen / clock.Elapsed.TotalSeconds);
        }
        double trainSeconds = clock.Elapsed.TotalSeconds;
        Scheduler?.Step();
        var eval = Evaluator.Evaluate(_model, _testLoader);
        var entry = new EpochLog(epoch + 1, lr, lossSum / seen, 100.0 * correct / seen, eval.Loss, eval.Accuracy,
            clock.Elapsed.TotalSeconds, seen / trainSeconds);

        CompletedEpochs = epoch + 1;
        bool isBest = eval.Accuracy > BestAccuracy;
        if (isBest)
        {
            BestAccuracy = eval.Accuracy;
            _bestEpoch = CompletedEpochs;
        }
        // last first: if we die after it, the resumed run repairs best and the log from what last records
        // (RepairAfterCrash); if we die before, it re-does this epoch.
        Checkpoint.Save(LastCheckpointPath, _model, Optimizer, Scheduler, Metadata(eval.Accuracy, _bestEpoch, entry));
        if (isBest) Checkpoint.Save(BestCheckpointPath, _model, null, null, Metadata(eval.Accuracy, _bestEpoch, null));
        EpochLogFile.Append(LogPath, entry);
        Progress?.EpochDone(entry, isBest);
        // The epoch is recorded (its non-finite test loss as null); continuing from weights that give it is pointless.
        if (!double.IsFinite(eval.Loss)) throw new TrainingDivergedException(epoch + 1, null, "test loss", eval.Loss, lr);
        return entry;
    }

    /// <summary>Network slimming: the subgradient λ·sign(γ) of λ·Σ|γ| over every BatchNorm's scale.</summary>
    private void AddBatchNormL1Gradient(float lambda)
    {
        foreach (var bn in _model.Modules().OfType<BatchNormBase>())
        {
            if (bn.Weight is not { Grad: Tensor g } w) continue;
            var gd = g.Data; var wd = w.Data;
            for (int i = 0; i < wd.Length; i++) gd[i] += lambda * MathF.Sign(wd[i]);
        }
    }

    /// <summary>
    /// Dropout masks become a function of (seed, epoch), as the data loader's shuffle and augmentation already are.
    /// <see cref="Generator.Default"/> is global and left alone (nothing in training draws from it); its state is
    /// recorded in the checkpoint for a process that wants to restore it.
    /// </summary>
    private void ReseedRandomStreams(int epoch)
    {
        for (int i = 0; i < _dropouts.Length; i++)
            _dropouts[i].Generator = new Generator(EpochSeeds.For(Config.Seed, epoch, EpochSeeds.DropoutStream(i)));
    }

    private int? _bestEpoch;

    private Dictionary<string, string> Metadata(double testAcc, int? bestEpoch, EpochLog? entry)
    {
        var meta = new Dictionary<string, string>();
        if (ExtraMetadata is not null)
            foreach (var (k, v) in ExtraMetadata)
                // Checkpoint writes the reserved keys itself; best_epoch and epoch_log belong to this run, not the source's.
                if (!CheckpointKeys.IsReserved(k) && k is not (CheckpointKeys.BestEpoch or CheckpointKeys.EpochLog)) meta[k] = v;
        meta[CheckpointKeys.Model] = Config.Model;
        meta[CheckpointKeys.Dataset] = Config.Dataset;
        meta[CheckpointKeys.NumClasses] = CheckpointKeys.Format(Config.NumClasses);
        meta[CheckpointKeys.Epoch] = CheckpointKeys.Format(CompletedEpochs);
        meta[CheckpointKeys.BestAcc] = CheckpointKeys.Format(BestAccuracy);
        meta[CheckpointKeys.TestAcc] = CheckpointKeys.Format(testAcc);
        meta[CheckpointKeys.Config] = Config.ToJson();
        meta[ModelArchitecture.MetadataKey] = ModelArchitecture.Describe(_model); // layer widths: a shrunk model reloads
        meta[CheckpointKeys.Threads] = CheckpointKeys.Format(Parallelism.MaxThreads);
        meta[CheckpointKeys.DefaultRng] = Checkpoint.FormatRngState(Generator.Default);
        if (bestEpoch is int be) meta[CheckpointKeys.BestEpoch] = CheckpointKeys.Format(be);
        if (entry is not null) meta[CheckpointKeys.EpochLog] = entry.ToJson();
        return meta;
    }
}

/// <summary>A loss became NaN or infinite: the message says where and what to do.</summary>
public sealed class TrainingDivergedException(int epoch, int? step, string what, double value, double lr)
    : InvalidOperationException(
        $"training diverged at epoch {epoch}{(step is int s ? $" step {s}" : "")}: {what} is {Describe(value)} — lower the learning rate (it was {lr.ToString("G4", System.Globalization.CultureInfo.InvariantCulture)})")
{
    public int Epoch { get; } = epoch;
    public int? Step { get; } = step;

    private static string Describe(double v) => double.IsNaN(v) ? "NaN" : v > 0 ? "+inf" : "-inf";
}
