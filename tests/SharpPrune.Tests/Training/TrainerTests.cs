using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Training;

public class TrainerTests
{
    private static Trainer NewTrainer(Module model, TrainConfig config, string dir, int? stopAfter = null) =>
        new(model, config, TrainingData.Train, TrainingData.Test, dir) { StopAfterEpochs = stopAfter };

    [Fact]
    public void ResumedRunEndsWithTheSameWeightsBitForBit()
    {
        var config = TrainingData.Config(epochs: 3);
        string full = TrainingData.TempDir(), split = TrainingData.TempDir();

        var modelA = TrainingData.TinyNet(3);
        var resultA = NewTrainer(modelA, config, full).Run();
        Assert.Equal(3, resultA.CompletedEpochs);

        // "Interrupted" after epoch 2 (a process kill leaves the same files: checkpoints are written atomically).
        var first = NewTrainer(TrainingData.TinyNet(3), config, split, stopAfter: 2).Run();
        Assert.Equal(2, first.CompletedEpochs);

        // A fresh process: new model (different init on purpose), state only from the checkpoint.
        var modelB = TrainingData.TinyNet(999);
        ((Dropout)modelB.GetSubmodule("3")).Generator = new Generator(4242); // stale dropout stream must not matter
        var resumed = NewTrainer(modelB, config, split);
        resumed.Resume(Checkpoint.Load(Path.Combine(split, CheckpointKeys.LastFile)));
        Assert.Equal(2, resumed.CompletedEpochs);
        var resultB = resumed.Run();

        TrainingData.AssertBitIdentical(modelA.StateDict(), modelB.StateDict());
        TrainingData.AssertBitIdentical(
            Checkpoint.Load(Path.Combine(full, CheckpointKeys.LastFile)).OptimizerState,
            Checkpoint.Load(Path.Combine(split, CheckpointKeys.LastFile)).OptimizerState);
        Assert.Equal(resultA.BestAccuracy, resultB.BestAccuracy);
        var logA = EpochLogFile.Read(Path.Combine(full, EpochLogFile.FileName));
        var logB = EpochLogFile.Read(Path.Combine(split, EpochLogFile.FileName));
        Assert.Equal([1, 2, 3], logB.Select(e => e.Epoch));
        Assert.Equal(logA.Select(e => (e.Lr, e.TrainLoss, e.TestAcc)), logB.Select(e => (e.Lr, e.TrainLoss, e.TestAcc)));
    }

    [Fact]
    public void TheSeedDrivesTheRun()
    {
        // Same model init, different seed: shuffle and dropout differ, so the weights must too. Guards the resume
        // test against passing because randomness was accidentally switched off.
        var config = TrainingData.Config(epochs: 1) with { Seed = 8 };
        var a = TrainingData.TinyNet(3);
        var b = TrainingData.TinyNet(3);
        NewTrainer(a, config, TrainingData.TempDir()).Run();
        NewTrainer(b, config with { Seed = 9 }, TrainingData.TempDir()).Run();
        Assert.NotEqual(a.StateDict()[0].Value.ToArray(), b.StateDict()[0].Value.ToArray());
    }

    [Fact]
    public void CheckpointsLogAndMetadataAreWrittenEachEpoch()
    {
        string dir = TrainingData.TempDir();
        var config = TrainingData.Config(epochs: 2, optimizer: "adamw", schedule: "cosine");
        var result = NewTrainer(TrainingData.TinyNet(1), config, dir).Run();

        var last = Checkpoint.Load(Path.Combine(dir, CheckpointKeys.LastFile));
        Assert.Equal("2", last.Get(CheckpointKeys.Epoch));
        Assert.Equal("tiny", last.Get(CheckpointKeys.Model));
        Assert.Equal("fashion-mnist", last.Get(CheckpointKeys.Dataset));
        Assert.Equal("10", last.Get(CheckpointKeys.NumClasses));
        Assert.True(last.HasOptimizer && last.HasScheduler);
        Assert.Equal(config, TrainConfig.FromJson(last.Get(CheckpointKeys.Config)!, "test"));
        var best = Checkpoint.Load(Path.Combine(dir, CheckpointKeys.BestFile));
        Assert.False(best.HasOptimizer);

        var log = EpochLogFile.Read(Path.Combine(dir, EpochLogFile.FileName));
        Assert.Equal(2, log.Count);
        Assert.Equal(result.BestAccuracy, log.Max(e => e.TestAcc));
        Assert.All(log, e => Assert.True(e.ImagesPerSecond > 0 && e.EpochSeconds > 0 && e.TrainLoss > 0));
        Assert.True(log[1].Lr < log[0].Lr, "cosine schedule lowers the rate");
        // Learned something: better than chance (10%) on the held-out images.
        Assert.True(result.BestAccuracy > 40, $"best accuracy {result.BestAccuracy}");
    }

    [Fact]
    public void APrunedModelTrainsWithItsZerosKept()
    {
        var model = TrainingData.TinyNet(5);
        var fc1 = (Linear)model.GetSubmodule("1");
        Prune.L1Unstructured(fc1, "weight", 0.6);
        var mask = fc1["weight_mask"]!.Clone();
        var origBefore = fc1["weight_orig"]!.Clone();

        NewTrainer(model, TrainingData.Config(epochs: 1), TrainingData.TempDir()).Run();

        var w = fc1.Weight.ToArray();
        var m = mask.ToArray();
        for (int i = 0; i < m.Length; i++)
            if (m[i] == 0) Assert.Equal(0f, w[i]);
        Assert.NotEqual(origBefore.ToArray(), fc1["weight_orig"]!.ToArray());
        Assert.Equal(m, fc1["weight_mask"]!.ToArray());
    }

    [Fact]
    public void ResumeRejectsAWeightsOnlyCheckpoint()
    {
        string dir = TrainingData.TempDir();
        NewTrainer(TrainingData.TinyNet(1), TrainingData.Config(epochs: 1), dir).Run();
        var trainer = NewTrainer(TrainingData.TinyNet(1), TrainingData.Config(epochs: 1), dir);
        var e = Assert.Throws<InvalidDataException>(() => trainer.Resume(Checkpoint.Load(Path.Combine(dir, CheckpointKeys.BestFile))));
        Assert.Contains("no optimizer state", e.Message);
    }
}
