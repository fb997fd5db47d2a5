using System.Text.Json;
using SharpPrune.IO;

namespace SharpPrune.Tests.Cli;

/// <summary>Deep Compression through the CLI on the shipped sample: train → prune → retrain → quantize → fine-tune → compress.</summary>
public class CliCompressionTests
{
    private static double Accuracy(string path, string dataDir)
    {
        var r = CliRunner.Ok("eval", "--load", path, "--data", "fashion-mnist", "--data-dir", dataDir, "--limit-test", "256", "--json");
        using var doc = JsonDocument.Parse(r.Out);
        return doc.RootElement.GetProperty("accuracy").GetDouble();
    }

    [Fact]
    public void TheWholePipelineRunsAndTheSpzFileEvaluatesLikeTheQuantizedCheckpoint()
    {
        string dir = CliRunner.TempDir(), sample = CliRunner.SampleDir;
        CliRunner.Ok(CliRunner.QuickTrain(Path.Combine(dir, "dense"), 1, limitTrain: 512, limitTest: 256));
        string pruned = Path.Combine(dir, "pruned.safetensors");
        CliRunner.Ok("prune", "--load", Path.Combine(dir, "dense", CheckpointKeys.LastFile), "--method", "global-l1", "--amount", "0.9", "--save", pruned);
        string[] fineTune = ["--data", "fashion-mnist", "--data-dir", sample, "--epochs", "1", "--batch", "32", "--lr", "0.01", "--limit-train", "512", "--limit-test", "256"];
        CliRunner.Ok(["train", "--load", pruned, .. fineTune, "--save", Path.Combine(dir, "retrain")]);
        string q = Path.Combine(dir, "q.safetensors");
        var quant = CliRunner.Ok("quantize", "--load", Path.Combine(dir, "retrain", CheckpointKeys.LastFile), "--bits", "conv=8,fc=5,fc3=4", "--save", q);
        Assert.Contains("fc3.weight: 4 bits", quant.Out);
        CliRunner.Ok(["train", "--load", q, .. fineTune, "--save", Path.Combine(dir, "ft")]);
        string ft = Path.Combine(dir, "ft", CheckpointKeys.LastFile);
        string spz = Path.Combine(dir, "model.spz");
        var comp = CliRunner.Ok("compress", "--load", ft, "--save", spz);
        Assert.Contains("Ratio PQH", comp.Out);
        Assert.Contains($"saved {spz}: {new FileInfo(spz).Length:N0} bytes", comp.Out);

        Assert.Equal(Accuracy(ft, sample), Accuracy(spz, sample));
        var report = CliRunner.Ok("report", "--load", spz);
        Assert.Contains("Compression rate", report.Out);
        Assert.Contains("fc1.weight", report.Out);
        // A .spz file is a starting point for training too.
        CliRunner.Ok(["train", "--load", spz, .. fineTune, "--save", Path.Combine(dir, "again")]);

        var bytes = File.ReadAllBytes(spz);
        bytes[bytes.Length / 2] ^= 0x40;
        string bad = Path.Combine(dir, "bad.spz");
        File.WriteAllBytes(bad, bytes);
        var r = CliRunner.Run("eval", "--load", bad, "--data-dir", sample);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("checksum", r.Err);
        File.WriteAllBytes(bad, bytes[..(bytes.Length - 5)]);
        r = CliRunner.Run("report", "--load", bad);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("truncated", r.Err);

        r = CliRunner.Run("compress", "--load", pruned, "--save", Path.Combine(dir, "x.spz"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("quantize it first", r.Err);
        r = CliRunner.Run("quantize", "--load", pruned, "--bits", "conv=8,fc9=3", "--save", q);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("unknown layer 'fc9'", r.Err);
    }
}
