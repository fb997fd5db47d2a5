using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.Tests.Cli;
using SharpPrune.Vision.Models;
using SharpPrune.Vision.Training;
using Xunit;

namespace SharpPrune.Tests.Pruning.Structured;

public class ShrinkCliTests
{
    [Fact]
    public void ShrinkSaveLoadEvalRetrainWithNoArchitectureFlags()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1));
        string dense = Path.Combine(dir, CheckpointKeys.LastFile), shrunk = Path.Combine(dir, "shrunk.safetensors");
        var r = CliRunner.Ok("shrink", "--load", dense, "--ratio", "0.5", "--criterion", "l1", "--data", "fashion-mnist",
            "--data-dir", CliRunner.SampleDir, "--limit-test", "128", "--no-timing", "--save", shrunk);
        Assert.Contains("parameters", r.Out);
        Assert.Contains("MACs (per image)", r.Out);
        Assert.Contains("test accuracy (%)", r.Out);
        // lenet5: conv1 6 -> 3, conv2 16 -> 8, fc1 120 -> 60, fc2 84 -> 42; fc3's 10 outputs stay.
        var ckpt = Checkpoint.Load(shrunk);
        Assert.Equal(new[] { 3, 1, 5, 5 }, ckpt.Model.Single(kv => kv.Key == "conv1.weight").Value.Shape);
        Assert.Equal(new[] { 60, 128 }, ckpt.Model.Single(kv => kv.Key == "fc1.weight").Value.Shape);
        Assert.Equal(new[] { 10, 42 }, ckpt.Model.Single(kv => kv.Key == "fc3.weight").Value.Shape);

        var eval = CliRunner.Ok("eval", "--load", shrunk, "--limit-test", "128", "--json");
        using (var doc = JsonDocument.Parse(eval.Out))
            Assert.Equal(128, doc.RootElement.GetProperty("count").GetInt32());
        CliRunner.Ok("summary", "--load", shrunk);
        CliRunner.Ok("report", "--load", shrunk);
        string retrain = Path.Combine(dir, "retrain");
        CliRunner.Ok("train", "--load", shrunk, "--epochs", "1", "--limit-train", "64", "--limit-test", "32", "--batch", "32", "--save", retrain);
        var again = Checkpoint.Load(Path.Combine(retrain, CheckpointKeys.LastFile));
        Assert.Equal(new[] { 60, 128 }, again.Model.Single(kv => kv.Key == "fc1.weight").Value.Shape);
        CliRunner.Ok("eval", "--load", Path.Combine(retrain, CheckpointKeys.LastFile), "--limit-test", "32");
        string pruned = Path.Combine(dir, "pruned.safetensors");
        CliRunner.Ok("prune", "--load", shrunk, "--method", "global-l1", "--amount", "0.3", "--save", pruned);
        CliRunner.Ok("eval", "--load", pruned, "--limit-test", "32");
    }

    [Fact]
    public void AShrunkModelCompressedToSpzReloadsAndEvaluatesLikeItsQuantizedCheckpoint()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1, 64, 32));
        string shrunk = Path.Combine(dir, "s.safetensors"), pruned = Path.Combine(dir, "p.safetensors"), q = Path.Combine(dir, "q.safetensors");
        CliRunner.Ok("shrink", "--load", Path.Combine(dir, CheckpointKeys.LastFile), "--no-timing", "--save", shrunk);
        CliRunner.Ok("prune", "--load", shrunk, "--method", "global-l1", "--amount", "0.5", "--save", pruned);
        CliRunner.Ok("quantize", "--load", pruned, "--bits", "conv=5,fc=4", "--save", q);
        string spz = Path.Combine(dir, "s.spz"), denseSpz = Path.Combine(dir, "d.spz");
        CliRunner.Ok("compress", "--load", q, "--save", spz);
        Assert.Contains(ModelArchitecture.MetadataKey, SharpPrune.Pruning.Compression.SpzFile.Read(File.ReadAllBytes(spz), spz).Metadata.Keys);
        (double, double) Eval(string path)
        {
            var r = CliRunner.Ok("eval", "--load", path, "--data", "fashion-mnist", "--data-dir", CliRunner.SampleDir, "--limit-test", "64", "--json");
            using var doc = JsonDocument.Parse(r.Out);
            return (doc.RootElement.GetProperty("accuracy").GetDouble(), doc.RootElement.GetProperty("loss").GetDouble());
        }
        Assert.Equal(Eval(q), Eval(spz));

        // A dense zoo model's file carries no widths: they would be bytes for nothing.
        string dq = Path.Combine(dir, "dq.safetensors");
        CliRunner.Ok("quantize", "--load", Path.Combine(dir, CheckpointKeys.LastFile), "--bits", "conv=5,fc=4", "--save", dq);
        CliRunner.Ok("compress", "--load", dq, "--save", denseSpz);
        Assert.DoesNotContain(ModelArchitecture.MetadataKey, SharpPrune.Pruning.Compression.SpzFile.Read(File.ReadAllBytes(denseSpz), denseSpz).Metadata.Keys);
        CliRunner.Ok("eval", "--load", denseSpz, "--limit-test", "32");
    }

    [Fact]
    public void ShrunkWeightsWithoutTheirArchitectureGiveASizeMismatchError()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1, 64, 32));
        string shrunk = Path.Combine(dir, "s.safetensors");
        CliRunner.Ok("shrink", "--load", Path.Combine(dir, CheckpointKeys.LastFile), "--no-timing", "--save", shrunk);
        var ckpt = Checkpoint.Load(shrunk);
        ckpt.Metadata.Remove(ModelArchitecture.MetadataKey);
        string stripped = Path.Combine(dir, "stripped.safetensors");
        SafeTensors.Save(stripped, ckpt.Model, ckpt.Metadata);
        var r = CliRunner.Run("eval", "--load", stripped, "--limit-test", "32");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("does not fit a lenet5", r.Err);
        Assert.Contains("conv1.weight", r.Err);
    }

    [Fact]
    public void AnArchitectureWiderThanTheDenseModelIsRefusedBeforeAllocating()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1, 64, 32));
        string shrunk = Path.Combine(dir, "s.safetensors");
        CliRunner.Ok("shrink", "--load", Path.Combine(dir, CheckpointKeys.LastFile), "--no-timing", "--save", shrunk);
        var ckpt = Checkpoint.Load(shrunk);
        // 1e9 output channels of 5x5 would be 25 billion weights: it must fail on the description, not on memory.
        ckpt.Metadata[ModelArchitecture.MetadataKey] = ckpt.Metadata[ModelArchitecture.MetadataKey].Replace("\"conv1\":[1,3]", "\"conv1\":[1,1000000000]");
        string hostile = Path.Combine(dir, "hostile.safetensors");
        SafeTensors.Save(hostile, ckpt.Model, ckpt.Metadata);
        var r = CliRunner.Run("eval", "--load", hostile, "--limit-test", "32");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("layer 'conv1'", r.Err);
        Assert.Contains("out channels 1000000000 outside 1..6", r.Err);
    }

    [Fact]
    public void CompactRemovesTheChannelsLnStructuredZeroed()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1, 64, 32));
        string masked = Path.Combine(dir, "masked.safetensors"), compact = Path.Combine(dir, "compact.safetensors");
        CliRunner.Ok("prune", "--load", Path.Combine(dir, CheckpointKeys.LastFile), "--method", "ln-structured", "--n", "1", "--dim", "0",
            "--amount", "0.5", "--layers", "conv\\d", "--save", masked);
        var r = CliRunner.Ok("shrink", "--load", masked, "--compact", "--no-timing", "--save", compact);
        var ckpt = Checkpoint.Load(compact);
        Assert.Equal(new[] { 3, 1, 5, 5 }, ckpt.Model.Single(kv => kv.Key == "conv1.weight").Value.Shape);
        Assert.Equal(new[] { 8, 3, 5, 5 }, ckpt.Model.Single(kv => kv.Key == "conv2.weight").Value.Shape);
        Assert.DoesNotContain(ckpt.Model, kv => kv.Key.EndsWith("_mask"));
        CliRunner.Ok("eval", "--load", compact, "--limit-test", "32");
    }

    [Fact]
    public void TaylorGlobalWithRoundingFromTheCli()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1, 64, 32));
        string output = Path.Combine(dir, "t.safetensors");
        var r = CliRunner.Ok("shrink", "--load", Path.Combine(dir, CheckpointKeys.LastFile), "--criterion", "taylor", "--data-dir", CliRunner.SampleDir,
            "--taylor-batches", "2", "--batch", "16", "--global", "--ratio", "0.4", "--max-layer-ratio", "0.5", "--round-to", "4", "--no-timing", "--save", output);
        var ckpt = Checkpoint.Load(output);
        foreach (var (key, dense) in new[] { ("conv1.weight", 6), ("conv2.weight", 16), ("fc1.weight", 120), ("fc2.weight", 84) })
        {
            int kept = ckpt.Model.Single(kv => kv.Key == key).Value.Size(0);
            Assert.True(kept % 4 == 0 || kept == dense, $"{key}: {kept} kept, not a multiple of 4");
            Assert.True(kept >= dense / 2, $"{key}: {kept} of {dense} kept, more than --max-layer-ratio 0.5 removed");
        }
        Assert.True(ckpt.Model.Where(kv => kv.Key.EndsWith(".weight")).Sum(kv => (long)kv.Value.Numel) < 44_000);
        Assert.Contains("removed", r.Out);
        Assert.Contains("taylor", ckpt.Get("shrink"));
    }

    [Theory]
    [InlineData("--ratios", "conv1=x", "is not layer=ratio")]
    [InlineData("--ratios", "nosuch=0.3", "is not a layer of a prunable channel group")]
    [InlineData("--ratio", "1", "--ratio")]
    [InlineData("--layers", "(", "invalid regular expression")]
    public void BadOptionsAreUsageErrors(string option, string value, string message)
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1, 32, 32));
        var r = CliRunner.Run("shrink", "--load", Path.Combine(dir, CheckpointKeys.LastFile), option, value, "--no-timing", "--save", Path.Combine(dir, "x.safetensors"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Err);
    }
}
