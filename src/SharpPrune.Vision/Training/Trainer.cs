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
    }

    /// <summary>Trains the remaining epochs; returns when done or after <see cref="StopAfterEpochs"/>.</summary>
    public TrainResult Run()
    {
        Directory.CreateDirectory(_saveDir);
        // Lines after the checkpoint we continue from would otherwise be repeated by the re-run epochs.
        if (CompletedEpochs > 0) EpochLogFile.TruncateAfter(LogPath, CompletedEpochs);
        else if (File.Exists(LogPath)) File.Delete(LogPath);
        EpochLog? last = null;
        while (CompletedEpochs < Config.Epochs && !(CompletedEpochs >= StopAfterEpochs))
            last = RunEpoch(CompletedEpochs);
        return new TrainResult(CompletedEpochs, BestAccuracy, last, LastCheckpointPath, BestCheckpointPath);
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
            if (!float.IsFinite(value))
                throw new InvalidOperationException(
                    $"training diverged: loss is {value} at epoch {epoch + 1}, batch {b + 1} (learning rate {lr:G4}); try a smaller --lr");
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
        if (isBest) BestAccuracy = eval.Accuracy;
        // last first: if we die between the two writes, the resumed run re-does this epoch and rewrites best.
        Checkpoint.Save(LastCheckpointPath, _model, Optimizer, Scheduler, Metadata(eval.Accuracy));
        if (isBest) Checkpoint.Save(BestCheckpointPath, _model, null, null, Metadata(eval.Accuracy));
        EpochLogFile.Append(LogPath, entry);
        Progress?.EpochDone(entry, isBest);
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

    private Dictionary<string, string> Metadata(double testAcc)
    {
        var meta = new Dictionary<string, string>();
        if (ExtraMetadata is not null)
            foreach (var (k, v) in ExtraMetadata)
                if (!CheckpointKeys.IsReserved(k)) meta[k] = v; // Checkpoint writes those itself
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
        return meta;
    }
}
