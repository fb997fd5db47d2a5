using System.Diagnostics;
using System.Text.Json;
using SharpPrune.Cli;
using SharpPrune.IO;
using SharpPrune.Vision.Models;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Cli;

/// <summary>The command-line edges found by fault and bad-input testing (issue 13), each as a user runs it.</summary>
public class CliReliabilityTests
{
    private static void AssertError(CliRunner.Result r, int exitCode, params string[] fragments)
    {
        Assert.True(r.ExitCode == exitCode, r.ToString());
        foreach (var f in fragments) Assert.Contains(f, r.Err);
        Assert.DoesNotContain("   at ", r.Err);
        Assert.DoesNotContain("System.", r.Err);
    }

    /// <summary>A lenet5 checkpoint as <c>train</c> writes it, with its metadata changed by <paramref name="edit"/>.</summary>
    private static string Lenet5Checkpoint(string dir, Action<Dictionary<string, string>>? edit = null, Action<SharpPrune.NN.Module>? weights = null)
    {
        var model = ModelZoo.Create("lenet5", 10, new Generator(1));
        weights?.Invoke(model);
        var meta = new Dictionary<string, string>
        {
            [CheckpointKeys.Model] = "lenet5", [CheckpointKeys.Dataset] = "fashion-mnist", [CheckpointKeys.NumClasses] = "10",
        };
        edit?.Invoke(meta);
        string path = Path.Combine(dir, "model.safetensors");
        Checkpoint.Save(path, model, null, null, meta);
        return path;
    }

    [Fact]
    public void EvalJsonOfADivergedCheckpointWritesNullForTheLoss()
    {
        string dir = CliRunner.TempDir();
        string path = Lenet5Checkpoint(dir, weights: m => m.GetSubmodule("fc3")["weight"]!.Data.Fill(1e38f));
        var r = CliRunner.Run("eval", "--load", path, "--json", "--data-dir", CliRunner.SampleDir, "--limit-test", "16");
        Assert.True(r.ExitCode == 0, r.ToString());
        using var doc = JsonDocument.Parse(r.Out);
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("loss").ValueKind);
        Assert.Equal(16, doc.RootElement.GetProperty("count").GetInt32());
    }

    [Fact]
    public void TrainDivergenceIsOnePlainLineAndTheLogStaysValid()
    {
        string save = CliRunner.TempDir();
        var r = CliRunner.Run("train", "--model", "lenet5", "--data", "fashion-mnist", "--data-dir", CliRunner.SampleDir,
            "--limit-train", "256", "--limit-test", "64", "--epochs", "2", "--batch", "64", "--lr", "10", "--save", save);
        AssertError(r, SharpPruneCli.ExitFailure, "training diverged at epoch ", ": loss is NaN — lower the learning rate");
        string log = Path.Combine(save, EpochLogFile.FileName);
        if (File.Exists(log)) EpochLogFile.Read(log); // every line parses
    }

    [Fact]
    public void TrainRecordsTheDataItReadEvenWithoutDataDir()
    {
        // The issue's case: trained with no --data-dir on the sample; installing the full set later must not switch
        // eval and resume to it. Whatever the default is on this machine, it is recorded.
        string save = CliRunner.TempDir();
        CliRunner.Ok("train", "--model", "lenet5", "--data", "fashion-mnist", "--epochs", "1", "--batch", "64",
            "--limit-train", "64", "--limit-test", "64", "--save", save);
        var cfg = TrainConfig.FromJson(Checkpoint.Load(Path.Combine(save, CheckpointKeys.LastFile)).Get(CheckpointKeys.Config)!, "last");
        Assert.NotNull(cfg.DataDir);
        Assert.Contains(cfg.DataSource, new[] { TrainConfig.SampleSource, TrainConfig.FilesSource });
    }

    [Fact]
    public void EvalAndResumeReuseTheRecordedSampleOrRefuseClearly()
    {
        string save = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(save, epochs: 2, limitTrain: 64, limitTest: 64, "--stop-after", "1"));
        string last = Path.Combine(save, CheckpointKeys.LastFile);
        var eval = CliRunner.Ok("eval", "--load", last, "--limit-test", "32");
        Assert.Contains("fashion-mnist-sample/test", eval.Out);

        // Resuming the sample run on other data is refused (exit 2), naming both.
        if (Directory.Exists(SharpPrune.Vision.Data.Datasets.DebianFashionMnistDirectory))
            AssertError(CliRunner.Run("train", "--resume", save, "--data-dir", SharpPrune.Vision.Data.Datasets.DebianFashionMnistDirectory),
                SharpPruneCli.ExitUsage, "trained on the shipped Fashion-MNIST sample", "a resumed run keeps its data");

        // Recorded full-set files that are gone: a clear refusal, not a silent switch.
        var ckpt = Checkpoint.Load(last);
        var cfg = TrainConfig.FromJson(ckpt.Get(CheckpointKeys.Config)!, "last") with { DataDir = "/nonexistent/fashion-mnist", DataSource = TrainConfig.FilesSource };
        string moved = Lenet5Checkpoint(CliRunner.TempDir(), m => m[CheckpointKeys.Config] = cfg.ToJson());
        AssertError(CliRunner.Run("eval", "--load", moved), SharpPruneCli.ExitFailure,
            "was trained on the fashion-mnist files in /nonexistent/fashion-mnist, which does not exist here");
    }

    [Fact]
    public void NumClassesMetadataIsCheckedAgainstTheClassifierBeforeBuildingTheModel()
    {
        string path = Lenet5Checkpoint(CliRunner.TempDir(), m => m[CheckpointKeys.NumClasses] = "250000");
        long before = GC.GetAllocatedBytesForCurrentThread();
        var r = CliRunner.Run("report", "--load", path);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        AssertError(r, SharpPruneCli.ExitFailure, "says 250000 classes but its classifier weight 'fc3.weight' has 10 rows");
        Assert.True(allocated < 40_000_000, $"allocated {allocated:N0} bytes before refusing"); // the classifier alone would be 84 MB
    }

    [Fact]
    public void EveryZooModelsClassifierIsItsLastMatrixSoTheClassCheckAcceptsValidCheckpoints()
    {
        // One of each family (the members differ in depth or width, not in where the classifier sits).
        foreach (var name in new[] { "lenet5", "lenet300", "alexnet", "vgg11", "resnet20", "preresnet110" })
        {
            var state = ModelZoo.Create(name, 7, new Generator(1)).StateDict();
            var last = state.Last(kv => kv.Value.Dim == 2 && kv.Key.EndsWith(".weight"));
            Assert.True(last.Value.Size(0) == 7, $"{name}: last matrix {last.Key} has {last.Value.Size(0)} rows");
        }
    }

    [Fact]
    public void AnUnknownModelNamedByACheckpointIsAFailureNotAUsageError()
    {
        string path = Lenet5Checkpoint(CliRunner.TempDir(), m => m[CheckpointKeys.Model] = "lenet6");
        AssertError(CliRunner.Run("report", "--load", path), SharpPruneCli.ExitFailure, "holds a model named 'lenet6', which is not in the zoo");
    }

    [Fact]
    public void TooLargeCountsHaveTheSameExitCodeForGlobalAndLocalMethods()
    {
        string path = Lenet5Checkpoint(CliRunner.TempDir());
        string save = Path.Combine(CliRunner.TempDir(), "p.safetensors");
        AssertError(CliRunner.Run("prune", "--load", path, "--method", "global-l1", "--amount", "100000000", "--save", save), SharpPruneCli.ExitUsage, "amount=100000000");
        AssertError(CliRunner.Run("prune", "--load", path, "--method", "l1-unstructured", "--amount", "100000000", "--save", save), SharpPruneCli.ExitUsage, "amount=100000000");
    }

    [Theory]
    [InlineData("inf")]
    [InlineData("1e400")]
    [InlineData("-inf")]
    [InlineData("-1e400")]
    public void NormInfIsAcceptedAs1e400Is(string n)
    {
        string path = Lenet5Checkpoint(CliRunner.TempDir());
        var r = CliRunner.Ok("prune", "--load", path, "--method", "ln-structured", "--n", n, "--amount", "0.5", "--save", Path.Combine(CliRunner.TempDir(), "p.safetensors"));
        Assert.Contains($"n={(n.StartsWith('-') ? "-inf" : "inf")} dim=0", r.Out);
    }

    [Fact]
    public void BadNormsAreUsageErrorsAndNucOnAConvIsRefusedAsPytorchDoes()
    {
        string path = Lenet5Checkpoint(CliRunner.TempDir());
        string save = Path.Combine(CliRunner.TempDir(), "p.safetensors");
        AssertError(CliRunner.Run("prune", "--load", path, "--method", "ln-structured", "--n", "nan", "--amount", "0.5", "--save", save),
            SharpPruneCli.ExitUsage, "--n must be a number, inf, -inf, fro or nuc, got 'nan'");
        AssertError(CliRunner.Run("prune", "--load", path, "--method", "ln-structured", "--n", "nuc", "--amount", "0.5", "--save", save),
            SharpPruneCli.ExitUsage, "nuclear norm requires a 'dim' argument of size 2");
    }

    [Fact]
    public void ParseErrorsShowNoDotnetTypeNames()
    {
        var r = CliRunner.Run("report", "--load", "x.safetensors", "--threads", "abc");
        AssertError(r, SharpPruneCli.ExitUsage, "--threads: 'abc' is not an integer");
        Assert.DoesNotContain("Nullable", r.Err);
    }

    [Fact]
    public async Task LoadOfAFifoFailsAtOnce()
    {
        if (!OperatingSystem.IsLinux()) return;
        string fifo = Path.Combine(CliRunner.TempDir(), "model.safetensors");
        using (var p = Process.Start("mkfifo", [fifo])) p.WaitForExit();
        var run = Task.Run(() => CliRunner.Run("prune", "--load", fifo, "--amount", "0.5", "--save", Path.Combine(CliRunner.TempDir(), "p.safetensors")));
        Assert.True(await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(20))) == run, "prune --load <fifo> blocked");
        AssertError(await run, SharpPruneCli.ExitFailure, "not a regular file");
    }

    [Fact]
    public void SaveOntoASymlinkWritesThroughIt()
    {
        string path = Lenet5Checkpoint(CliRunner.TempDir());
        string dir = CliRunner.TempDir(), real = Path.Combine(dir, "real.safetensors"), link = Path.Combine(dir, "link.safetensors");
        File.WriteAllText(real, "old");
        File.CreateSymbolicLink(link, real);
        CliRunner.Ok("prune", "--load", path, "--amount", "0.5", "--save", link);
        Assert.NotNull(new FileInfo(link).LinkTarget);
        Assert.Contains("conv1.weight_mask", Checkpoint.Load(real).Model.Select(kv => kv.Key));
    }

    [Fact]
    public void ACheckpointWith20kExtraTensorsGivesAShortErrorLine()
    {
        var model = ModelZoo.Create("lenet5", 10, new Generator(1));
        var tensors = model.StateDict().Concat(Enumerable.Range(0, 20_000).Select(i => new KeyValuePair<string, Tensor>($"extra.{i}", Tensor.Zeros(1))));
        string path = Path.Combine(CliRunner.TempDir(), "m.safetensors");
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { [CheckpointKeys.Model] = "lenet5", [CheckpointKeys.NumClasses] = "10" });
        var r = CliRunner.Run("report", "--load", path);
        AssertError(r, SharpPruneCli.ExitFailure, "and 19,990 more");
        Assert.True(r.Err.Length < 2500, $"error of {r.Err.Length} characters");
    }
}
