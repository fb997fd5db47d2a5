using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Training;

/// <summary>
/// Crashes and divergence (issue 13): resume brings last, best and the log to the state an uninterrupted run ends
/// in, whatever write a kill interrupted; a NaN loss is reported plainly and the log stays valid JSON.
/// </summary>
public class TrainerCrashTests
{
    private static readonly TrainConfig Config = TrainingData.Config(epochs: 2) with { LimitTrain = 128, LimitTest = 128 };

    private static Trainer NewTrainer(Module model, TrainConfig config, string dir, int? stopAfter = null) =>
        new(model, config, TrainingData.Train, TrainingData.Test, dir) { StopAfterEpochs = stopAfter };

    /// <summary>A fresh process resuming <paramref name="dir"/> from its last.safetensors, to the end.</summary>
    private static Trainer ResumeToEnd(string dir)
    {
        var t = NewTrainer(TrainingData.TinyNet(999), Config, dir);
        t.Resume(Checkpoint.Load(Path.Combine(dir, CheckpointKeys.LastFile)));
        t.Run();
        return t;
    }

    private static void CopyDir(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)), overwrite: true);
    }

    /// <summary>The run's files hold what an uninterrupted run's do: weights, epochs, best and the log's numbers.</summary>
    private static void AssertSameOutcome(string expectedDir, string actualDir)
    {
        foreach (var file in new[] { CheckpointKeys.LastFile, CheckpointKeys.BestFile })
        {
            var e = Checkpoint.Load(Path.Combine(expectedDir, file));
            var a = Checkpoint.Load(Path.Combine(actualDir, file));
            TrainingData.AssertBitIdentical(e.Model, a.Model);
            Assert.Equal(e.Get(CheckpointKeys.Epoch), a.Get(CheckpointKeys.Epoch));
            Assert.Equal(e.Get(CheckpointKeys.BestAcc), a.Get(CheckpointKeys.BestAcc));
        }
        var logE = EpochLogFile.Read(Path.Combine(expectedDir, EpochLogFile.FileName));
        var logA = EpochLogFile.Read(Path.Combine(actualDir, EpochLogFile.FileName));
        Assert.Equal(logE.Select(x => (x.Epoch, x.Lr, x.TrainLoss, x.TestAcc)), logA.Select(x => (x.Epoch, x.Lr, x.TrainLoss, x.TestAcc)));
        Assert.Empty(Directory.GetFiles(actualDir, "*.tmp-*"));
    }

    /// <summary>An uninterrupted run, and a copy of the same run's files as they were after epoch 1.</summary>
    private static (string Full, string AfterEpoch1) Baseline()
    {
        string full = TrainingData.TempDir(), after1 = TrainingData.TempDir();
        NewTrainer(TrainingData.TinyNet(3), Config, full).Run();
        NewTrainer(TrainingData.TinyNet(3), Config, after1, stopAfter: 1).Run();
        var log = EpochLogFile.Read(Path.Combine(full, EpochLogFile.FileName));
        Assert.True(log[1].TestAcc > log[0].TestAcc, "precondition: the final epoch is a new best, so it writes best.safetensors");
        return (full, after1);
    }

    [Fact]
    public void ResumeRepairsBestAndTheLogAfterAKillInTheFinalEpoch()
    {
        var (full, after1) = Baseline();
        // The kill of the issue: last.safetensors of the final epoch is written, best.safetensors (still epoch 1's)
        // and the log line are not.
        string killed = TrainingData.TempDir();
        CopyDir(after1, killed);
        ResumeToEnd(killed);
        File.Copy(Path.Combine(after1, CheckpointKeys.BestFile), Path.Combine(killed, CheckpointKeys.BestFile), overwrite: true);
        File.Copy(Path.Combine(after1, EpochLogFile.FileName), Path.Combine(killed, EpochLogFile.FileName), overwrite: true);
        File.WriteAllText(Path.Combine(killed, CheckpointKeys.BestFile + ".tmp-" + Guid.NewGuid().ToString("N")), "partial");

        ResumeToEnd(killed);
        AssertSameOutcome(full, killed);
    }

    [Fact]
    public void AKillAtEveryWriteStepOfTheFinalEpochKeepsTheLastGoodCheckpointAndResumeRepairsTheRest()
    {
        var (full, after1) = Baseline();
        var bestBefore = Checkpoint.Load(Path.Combine(after1, CheckpointKeys.BestFile)).Model;

        // Count the write steps of the final epoch.
        int steps = 0;
        string probe = TrainingData.TempDir();
        CopyDir(after1, probe);
        AtomicFile.StepObserver = (_, _) => steps++;
        try { ResumeToEnd(probe); } finally { AtomicFile.StepObserver = null; }
        Assert.True(steps >= 12, $"only {steps} write steps observed");

        for (int crashAt = 0; crashAt < steps; crashAt++)
        {
            string dir = TrainingData.TempDir();
            CopyDir(after1, dir);
            int step = 0;
            AtomicFile.StepObserver = (kind, tmp) =>
            {
                if (step++ != crashAt) return;
                // What a kill leaves: a temp file as far as it got (a stand-in: the in-process abort deletes its own,
                // which is still locked here).
                if (kind != AtomicWriteStep.Renamed) File.WriteAllText(tmp[..^32] + Guid.NewGuid().ToString("N"), "partial");
                throw new SimulatedCrash();
            };
            try { Assert.Throws<SimulatedCrash>(() => ResumeToEnd(dir)); }
            finally { AtomicFile.StepObserver = null; }

            // The last good state survives: every checkpoint loads, last is epoch 1 or 2, best is never torn.
            var last = Checkpoint.Load(Path.Combine(dir, CheckpointKeys.LastFile));
            Assert.Contains(last.Get(CheckpointKeys.Epoch), new[] { "1", "2" });
            var best = Checkpoint.Load(Path.Combine(dir, CheckpointKeys.BestFile));
            Assert.Equal(bestBefore.Count, best.Model.Count);
            EpochLogFile.Read(Path.Combine(dir, EpochLogFile.FileName));

            ResumeToEnd(dir);
            AssertSameOutcome(full, dir);
        }
    }

    private sealed class SimulatedCrash : Exception;

    [Fact]
    public void StartRemovesStaleTempFilesOfItsOwnOutputsOnly()
    {
        string dir = TrainingData.TempDir();
        string guid = Guid.NewGuid().ToString("N");
        string[] stale = [CheckpointKeys.LastFile, CheckpointKeys.BestFile, EpochLogFile.FileName];
        foreach (var f in stale) File.WriteAllText(Path.Combine(dir, f + ".tmp-" + guid), "left by a kill");
        File.WriteAllText(Path.Combine(dir, "mine.tmp-" + guid), "not ours");
        NewTrainer(TrainingData.TinyNet(1), Config with { Epochs = 1 }, dir).Run();
        Assert.Equal(["mine.tmp-" + guid], Directory.GetFiles(dir, "*.tmp-*").Select(Path.GetFileName));
    }

    [Fact]
    public void ANanTrainingLossIsReportedPlainly()
    {
        var model = TrainingData.TinyNet(1);
        ((Linear)model.GetSubmodule("4")).Weight.Data.Fill(float.NaN);
        var e = Assert.Throws<TrainingDivergedException>(() => NewTrainer(model, Config, TrainingData.TempDir()).Run());
        Assert.Equal("training diverged at epoch 1 step 1: loss is NaN — lower the learning rate (it was 0.05)", e.Message);
    }

    /// <summary>Finite in training, infinite logits in evaluation: the test loss is NaN while training went fine.</summary>
    private sealed class BlowsUpInEval : Module
    {
        protected override Tensor ForwardCore(Tensor input) => Training ? input : input * float.PositiveInfinity;
    }

    [Fact]
    public void ANanTestLossIsLoggedAsNullAndReportedAfterTheEpochIsSaved()
    {
        string dir = TrainingData.TempDir();
        var model = new Sequential(TrainingData.TinyNet(1), new BlowsUpInEval());
        var e = Assert.Throws<TrainingDivergedException>(() => NewTrainer(model, Config, dir).Run());
        Assert.Equal("training diverged at epoch 1: test loss is NaN — lower the learning rate (it was 0.05)", e.Message);

        string line = File.ReadAllLines(Path.Combine(dir, EpochLogFile.FileName)).Single();
        Assert.Contains("\"test_loss\":null", line);
        System.Text.Json.JsonDocument.Parse(line).Dispose();
        Assert.True(double.IsNaN(EpochLogFile.Read(Path.Combine(dir, EpochLogFile.FileName))[0].TestLoss));
        Assert.Equal("1", Checkpoint.Load(Path.Combine(dir, CheckpointKeys.LastFile)).Get(CheckpointKeys.Epoch));
    }
}
