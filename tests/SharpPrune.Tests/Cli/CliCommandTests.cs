using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.Tests.Training;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Cli;

public class CliCommandTests
{
    [Fact]
    public void SummaryPrintsTheLayerTable()
    {
        var r = CliRunner.Ok("summary", "--model", "lenet5");
        Assert.Contains("Conv2d-1", r.Out);
        Assert.Contains("[-1, 10]", r.Out);
        Assert.Contains("Total params: 44,426", r.Out);
    }

    [Fact]
    public void TrainEvalPruneReportAndRetrainATinyRun()
    {
        string dir = CliRunner.TempDir();
        var train = CliRunner.Ok(CliRunner.QuickTrain(dir, 1));
        Assert.Contains("lenet5 on fashion-mnist (256 train / 128 test images)", train.Out);
        Assert.Contains("epoch 1/1", train.Out);
        Assert.DoesNotContain("\r", train.Err); // redirected: no status-line redraws
        string best = Path.Combine(dir, CheckpointKeys.BestFile);
        Assert.True(File.Exists(best) && File.Exists(Path.Combine(dir, CheckpointKeys.LastFile)));
        Assert.Single(EpochLogFile.Read(Path.Combine(dir, EpochLogFile.FileName)));

        // No --data-dir: the run's recorded one (the sample), not an installed full Fashion-MNIST.
        var eval = CliRunner.Ok("eval", "--load", best, "--limit-test", "128", "--json");
        using (var doc = JsonDocument.Parse(eval.Out))
        {
            Assert.StartsWith("fashion-mnist-sample/test", doc.RootElement.GetProperty("dataset").GetString());
            Assert.Equal(128, doc.RootElement.GetProperty("count").GetInt32());
            double acc = doc.RootElement.GetProperty("accuracy").GetDouble();
            // The run's own evaluation of the same 128 images recorded the same accuracy.
            Assert.Equal(EpochLogFile.Read(Path.Combine(dir, EpochLogFile.FileName))[0].TestAcc, acc, 10);
        }

        string pruned = Path.Combine(dir, "pruned.safetensors");
        var prune = CliRunner.Ok("prune", "--load", best, "--method", "global-l1", "--amount", "0.75", "--save", pruned);
        Assert.Contains("Compression rate", prune.Out);
        var ckpt = Checkpoint.Load(pruned);
        Assert.Contains(ckpt.Model, kv => kv.Key == "conv1.weight_orig");
        Assert.Contains(ckpt.Model, kv => kv.Key == "fc3.weight_mask");
        Assert.Equal("lenet5", ckpt.Get(CheckpointKeys.Model));
        Assert.Contains("global-l1", ckpt.Get("pruning"));

        var report = CliRunner.Ok("report", "--load", pruned, "--json");
        using (var doc = JsonDocument.Parse(report.Out))
        {
            var layers = doc.RootElement.GetProperty("layers").EnumerateArray().ToList();
            long nz = layers.Where(l => l.GetProperty("name").GetString()!.EndsWith(".weight")).Sum(l => l.GetProperty("nonzeros").GetInt64());
            long total = layers.Where(l => l.GetProperty("name").GetString()!.EndsWith(".weight")).Sum(l => l.GetProperty("total").GetInt64());
            Assert.InRange((double)nz / total, 0.249, 0.251);
        }
        Assert.Contains("fc1.weight           | Nonzeros weight =", CliRunner.Ok("report", "--load", pruned).Out);

        // Fine-tuning the pruned model: the masks stay, the pruned weights stay zero.
        string retrain = Path.Combine(dir, "retrain");
        var fineTune = CliRunner.Ok(["train", "--load", pruned, "--epochs", "1", "--batch", "32",
            "--limit-train", "128", "--limit-test", "64", "--save", retrain]);
        Assert.Contains("retraining pruned", fineTune.Out);
        var after = Checkpoint.Load(Path.Combine(retrain, CheckpointKeys.LastFile));
        var masks = ckpt.Model.Where(kv => kv.Key.EndsWith("_mask")).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        foreach (var (key, mask) in masks)
        {
            var newMask = after.Model.Single(kv => kv.Key == key).Value.ToArray();
            Assert.Equal(mask, newMask);
        }
        var retrainedReport = CliRunner.Ok("report", "--load", Path.Combine(retrain, CheckpointKeys.LastFile), "--json");
        Assert.Contains("\"pruned_percent\"", retrainedReport.Out);
        Assert.Equal(JsonDocument.Parse(report.Out).RootElement.GetProperty("alive").GetInt64(),
                     JsonDocument.Parse(retrainedReport.Out).RootElement.GetProperty("alive").GetInt64());
    }

    [Fact]
    public void ResumeThroughTheCliMatchesAnUninterruptedRunBitForBit()
    {
        string full = CliRunner.TempDir(), split = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(full, 3, limitTrain: 128, limitTest: 64));
        var stopped = CliRunner.Ok(CliRunner.QuickTrain(split, 3, 128, 64, "--stop-after", "2"));
        Assert.Contains($"continue with: sharpprune train --resume {split}", stopped.Out);

        var resumed = CliRunner.Ok("train", "--resume", split);
        Assert.Contains("after epoch 2", resumed.Out);
        Assert.Contains("epoch 3/3", resumed.Out);
        Assert.DoesNotContain("epoch 2/3", resumed.Out);

        var a = Checkpoint.Load(Path.Combine(full, CheckpointKeys.LastFile));
        var b = Checkpoint.Load(Path.Combine(split, CheckpointKeys.LastFile));
        TrainingData.AssertBitIdentical(a.Model, b.Model);
        TrainingData.AssertBitIdentical(a.OptimizerState, b.OptimizerState);
        Assert.Equal(a.Get(CheckpointKeys.BestAcc), b.Get(CheckpointKeys.BestAcc));
        Assert.Equal([1, 2, 3], EpochLogFile.Read(Path.Combine(split, EpochLogFile.FileName)).Select(e => e.Epoch));
    }

    [Fact]
    public void DemoStructureRunsOnASmallSubset()
    {
        string dir = CliRunner.TempDir();
        var r = CliRunner.Ok("demo", "--epochs", "1", "--limit-train", "256", "--limit-test", "256", "--save", dir);
        Assert.Contains("== step 1/6: train LeNet-5", r.Out);
        Assert.Contains("== step 6/6: report the retrained model", r.Out);
        Assert.Contains("Compression rate", r.Out);
        Assert.Contains("demo done", r.Out);
        Assert.True(File.Exists(Path.Combine(dir, "pruned.safetensors")));
        Assert.True(File.Exists(Path.Combine(dir, "retrain", CheckpointKeys.LastFile)));
        var eval = CliRunner.Ok("eval", "--load", Path.Combine(dir, "pruned.safetensors"), "--limit-test", "256");
        Assert.Contains("on fashion-mnist-sample/test", eval.Out);
    }
}
