using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Tests.Cli;
using SharpPrune.Tests.Training;

namespace SharpPrune.Tests.Pruning;

public class SensitivityTests
{
    private static List<KeyValuePair<string, Tensor>> Copy(Module m) =>
        m.StateDict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Clone())).ToList();

    [Fact]
    public void EachLayerIsPrunedAloneToEachSparsityAndPutBackExactly()
    {
        var g = new Generator(11);
        var a = new Linear(10, 10, generator: g);
        var b = new Linear(10, 4, generator: g);
        Prune.L1Unstructured(b, "weight", 0.25); // already pruned: 10 of 40 gone
        var net = new Sequential(a, b);
        var before = Copy(net);
        var hooksBefore = b.ForwardPreHooks.ToArray();

        // "Accuracy" = non-zero effective weights of both layers, read through a forward pass's view of them.
        (double, double) Evaluate()
        {
            net.Forward(Tensor.Randn(new Generator(1), 2, 10));
            return (a["weight"]!.CountNonZero() + b["weight"]!.CountNonZero(), 0);
        }
        var r = SensitivityAnalysis.Run([("0", a), ("1", b)], [0.0, 0.5, 0.9], Evaluate);

        Assert.Equal(130, r.BaselineAccuracy);
        Assert.Equal(new double[] { 130, 80, 40 }, r.Layers[0].Points.Select(p => p.Accuracy)); // a alone: 100 -> 50 -> 10
        Assert.Equal(new double[] { 130, 120, 104 }, r.Layers[1].Points.Select(p => p.Accuracy)); // b: 30 -> 20 -> 4 (0 below its 25%)
        TrainingData.AssertBitIdentical(before, net.StateDict());
        Assert.Equal(hooksBefore, b.ForwardPreHooks.ToArray());
        Assert.False(Prune.IsPruned(a));
        Assert.Equal(30, b["weight"]!.CountNonZero());
    }

    [Fact]
    public void RatesForAnAccuracyDropTakeTheHighestSparsityWithinIt()
    {
        var r = new SensitivityResult(90, 0.3,
        [
            new("conv1", [new(0.5, 89.5, 0), new(0.7, 88.0, 0), new(0.9, 60, 0)]),
            new("fc1", [new(0.5, 90, 0), new(0.7, 89.8, 0), new(0.9, 89.1, 0)]),
            new("fc2", [new(0.5, 80, 0)]),
        ]);
        Assert.Equal("conv1=0.5,fc1=0.9,fc2=0", r.RatesFor(1).ToString());
        Assert.Equal("conv1=0.7,fc1=0.9,fc2=0", r.RatesFor(2).ToString());
        Assert.StartsWith("layer,sparsity,accuracy,loss\n(none),0,90,0.3\nconv1,0.5,89.5,0\n", r.ToCsv());
        Assert.Contains("\"rates\": \"conv1=0.5,fc1=0.9,fc2=0\"", r.ToJson(1));
    }

    [Theory]
    [InlineData("0.1:0.95:0.05", 18, 0.1, 0.95)]
    [InlineData("0:1:0.25", 5, 0, 1)]
    [InlineData("0.5,0.8,0.9", 3, 0.5, 0.9)]
    public void SparsityRangesIncludeTheirEnd(string text, int count, double first, double last)
    {
        var s = SensitivityAnalysis.ParseSparsities(text);
        Assert.Equal(count, s.Count);
        Assert.Equal(first, s[0]);
        Assert.Equal(last, s[^1]);
    }

    [Theory]
    [InlineData("0.1:1.5:0.1", "got '1.5'")]
    [InlineData("0.5:0.1:0.1", "stop 0.1 is below start 0.5")]
    [InlineData("0.1:0.5:0", "step of '0.1:0.5:0' must be a number > 0")]
    [InlineData("0.1:0.5", "is not start:stop:step")]
    public void BadSparsityRangesAreRefused(string text, string message) =>
        Assert.Contains(message, Assert.Throws<ArgumentException>(() => SensitivityAnalysis.ParseSparsities(text)).Message);

    [Fact]
    public void TheCliPrintsTheTableRatesAndWritesCsvAndJson()
    {
        string dir = CliRunner.TempDir();
        CliRunner.Ok(CliRunner.QuickTrain(dir, 1, 256, 64));
        string ckpt = Path.Combine(dir, "last.safetensors"), outDir = Path.Combine(dir, "sens");
        var r = CliRunner.Ok("sensitivity", "--load", ckpt, "--data-dir", CliRunner.SampleDir, "--sparsities", "0.5,0.9", "--layers", "fc\\d",
            "--max-drop", "2", "--out", outDir, "--limit-test", "64");
        Assert.Contains("sensitivity of 3 layers of lenet5 at 2 sparsities", r.Out);
        Assert.Contains("per-layer rates within 2 points of the baseline (each layer judged alone): --rates 'fc1=", r.Out);
        var csv = File.ReadAllLines(Path.Combine(outDir, "sensitivity.csv"));
        Assert.Equal(1 + 1 + 3 * 2, csv.Length);
        Assert.True(File.Exists(Path.Combine(outDir, "sensitivity.json")));
        Assert.Contains("<svg xmlns=", File.ReadAllText(Path.Combine(outDir, "sensitivity.svg")));
        Assert.True(new FileInfo(Path.Combine(outDir, "sensitivity.png")).Length > 1000);
        var bad = CliRunner.Run("sensitivity", "--load", ckpt, "--layers", "nope");
        Assert.Equal(2, bad.ExitCode);
        Assert.Contains("--layers 'nope' matches none of the Conv2d/Linear layers: conv1, conv2, fc1, fc2, fc3", bad.Err);
    }
}
