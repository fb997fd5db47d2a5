using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Schedules;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// Threshold pruning (Han et al. 2015), per-layer rates, pruning to a target sparsity and the AGP schedule against
/// PyTorch (tests/fixtures/pruning/workflow.safetensors, made by scripts/make_workflow_fixtures.py).
/// </summary>
public class WorkflowMethodTests
{
    private static readonly Lazy<SafeTensorsFile> Fx = new(() => Fixtures.Load("pruning", "workflow.safetensors"));

    private static void AssertMask(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape.ToArray(), actual.Shape.ToArray());
        var e = expected.ToArray(); var a = actual.ToArray();
        for (int i = 0; i < e.Length; i++)
            if (e[i] != a[i]) Assert.Fail($"{what}: mask differs from PyTorch's at flat index {i} ({e[i]} vs {a[i]})");
    }

    [Theory]
    [InlineData("0.0")]
    [InlineData("0.25")]
    [InlineData("0.7")]
    [InlineData("1.0")]
    [InlineData("2.5")]
    public void ThresholdMasksMatchPytorch(string quality)
    {
        var m = new ParamModule("Conv2d", ("weight", Fx.Value.Get($"threshold.{quality}.input")));
        Prune.Apply(m, "weight", new ThresholdUnstructured(double.Parse(quality, System.Globalization.CultureInfo.InvariantCulture)));
        var mask = m["weight_mask"]!;
        AssertMask(Fx.Value.Get($"threshold.{quality}.mask"), mask, $"quality {quality}");
        if (quality == "0.0") Assert.Equal(mask.Numel, mask.CountNonZero());
        if (quality == "0.7") Assert.InRange(1 - (double)mask.CountNonZero() / mask.Numel, 0.35, 0.6); // ~45% for a Gaussian
    }

    [Fact]
    public void ThresholdAppliedTwiceUsesTheSurvivorsStdAsPytorch()
    {
        var m = new ParamModule("Linear", ("weight", Fx.Value.Get("threshold2.input")));
        Prune.Apply(m, "weight", new ThresholdUnstructured(0.5));
        int afterFirst = m["weight_mask"]!.CountNonZero();
        Prune.Apply(m, "weight", new ThresholdUnstructured(0.5));
        AssertMask(Fx.Value.Get("threshold2.mask"), m["weight_mask"]!, "second threshold pruning");
        Assert.True(m["weight_mask"]!.CountNonZero() < afterFirst, "the second pass prunes more");
    }

    [Fact]
    public void ThresholdRefusesANegativeOrNanQuality()
    {
        Assert.Contains("quality=-1", Assert.Throws<ArgumentException>(() => new ThresholdUnstructured(-1)).Message);
        Assert.Throws<ArgumentException>(() => new ThresholdUnstructured(double.NaN));
    }

    private static ParamModule Net(string prefix)
    {
        var net = new ParamModule("Net");
        foreach (var layer in new[] { "conv1", "conv2", "fc1" })
            net.RegisterModule(layer, new ParamModule(layer.StartsWith("conv") ? "Conv2d" : "Linear", ("weight", Fx.Value.Get($"{prefix}.{layer}.input"))));
        return net;
    }

    [Fact]
    public void PerLayerRatesMatchPytorchL1PerLayer()
    {
        var net = Net("rates");
        var rates = LayerRates.Parse(Fx.Value.Metadata!["rates"]);
        Assert.Equal("conv1=0.16,conv2=0.62,fc1=0.9497", rates.ToString());
        rates.Apply(net);
        foreach (var layer in new[] { "conv1", "conv2", "fc1" })
            AssertMask(Fx.Value.Get($"rates.{layer}.mask"), net.GetSubmodule(layer)["weight_mask"]!, layer);
    }

    [Theory]
    [InlineData("conv1=0.1,nope=0.5", "no layer named 'nope'; layers with a 'weight': conv1, conv2, fc1")]
    [InlineData("conv1=1.5", "rate of 'conv1' must be a fraction in [0, 1], got 1.5")]
    [InlineData("conv1=0.1,conv1=0.2", "layer 'conv1' is given twice")]
    [InlineData("conv1", "'conv1' is not 'layer=rate'")]
    [InlineData("conv1=abc", "rate of 'conv1' is not a number: 'abc'")]
    public void Per_layer_rates_refuse_bad_input_and_change_nothing(string text, string message)
    {
        var net = Net("rates");
        var e = Assert.Throws<ArgumentException>(() => LayerRates.Parse(text).Apply(net));
        Assert.Contains(message, e.Message);
        Assert.False(Prune.IsPruned(net));
    }

    [Fact]
    public void PruningToAGlobalTargetInStepsMatchesPytorch()
    {
        var mods = Enumerable.Range(0, 3).Select(i => new ParamModule("P", ("weight", Fx.Value.Get($"global.{i}.input")))).ToArray();
        var targets = mods.Select(m => ((Module)m, "weight")).ToList();
        double[] steps = [0.3, 0.6];
        for (int s = 0; s < steps.Length; s++)
        {
            Sparsity.PruneTo(targets, steps[s], global: true);
            for (int i = 0; i < mods.Length; i++)
                AssertMask(Fx.Value.Get($"global.{i}.mask.{s}"), mods[i]["weight_mask"]!, $"tensor {i} after step {s}");
            Assert.Equal(steps[s], Sparsity.Of(targets), 2);
        }
        Sparsity.PruneTo(targets, 0.4, global: true); // below the current sparsity: nothing changes
        Assert.Equal(0.6, Sparsity.Of(targets), 2);
    }

    [Fact]
    public void PruningToAPerTensorTargetGivesEachTensorThatSparsity()
    {
        var g = new Generator(3);
        var mods = new[] { new ParamModule("A", ("weight", Tensor.Randn(g, 10, 10))), new ParamModule("B", ("weight", Tensor.Randn(g, 50))) };
        var targets = mods.Select(m => ((Module)m, "weight")).ToList();
        Sparsity.PruneTo(targets, 0.5, global: false);
        Sparsity.PruneTo(targets, 0.8, global: false);
        Assert.Equal(80, Sparsity.Pruned(mods[0], "weight"));
        Assert.Equal(40, Sparsity.Pruned(mods[1], "weight"));
        // The survivors are the largest magnitudes.
        var w = mods[0]["weight_orig"]!.ToArray().Select(Math.Abs).ToArray();
        var mask = mods[0]["weight_mask"]!.ToArray();
        float minKept = w.Where((_, i) => mask[i] == 1).Min(), maxPruned = w.Where((_, i) => mask[i] == 0).Max();
        Assert.True(minKept > maxPruned);
    }

    [Fact]
    public void AgpScheduleFollowsZhuAndGupta()
    {
        var expected = Fx.Value.Get("agp.sparsity").ToArray();
        var s = new AgpSchedule(0.1, 0.9, startStep: 10, endStep: 110, frequency: 20);
        for (int t = 0; t < expected.Length; t++)
            Assert.Equal(expected[t], s.SparsityAt(t), 6);
        var updates = Enumerable.Range(0, 130).Where(t => s.IsUpdateStep(t)).ToArray();
        Assert.Equal([10, 30, 50, 70, 90, 110], updates);
        Assert.Throws<ArgumentException>(() => new AgpSchedule(0.5, 0.4, 0, 10, 1));
        Assert.Throws<ArgumentException>(() => new AgpSchedule(0, 0.9, 10, 5, 1));
        Assert.Throws<ArgumentException>(() => new AgpSchedule(0, 0.9, 0, 10, 0));
    }

    [Fact]
    public void GradualPrunerRaisesTheSparsityOnUpdateStepsOnly()
    {
        var g = new Generator(5);
        var a = new ParamModule("A", ("weight", Tensor.Randn(g, 20, 20)));
        var pruner = new GradualPruner([(a, "weight")], new AgpSchedule(0, 0.8, 0, 100, 25), global: false);
        pruner.Attach();
        Assert.Contains(a.StateDict(), kv => kv.Key == "weight_mask");
        var seen = new List<double>();
        for (long t = 0; t <= 120; t++)
        {
            bool updated = pruner.Step(t);
            Assert.Equal(t is 0 or 25 or 50 or 75 or 100, updated);
            if (updated) seen.Add(pruner.CurrentSparsity);
        }
        Assert.Equal(new[] { 0.0, 0.4625, 0.7, 0.7875, 0.8 }, seen.Select(x => Math.Round(x, 4)));
    }

    [Theory]
    [InlineData(IterativeShape.Geometric)]
    [InlineData(IterativeShape.Linear)]
    [InlineData(IterativeShape.Cubic)]
    public void IterativeTargetsRiseToTheFinalSparsity(IterativeShape shape)
    {
        var s = new IterativeSchedule(4, 0.9, shape);
        var t = s.Targets();
        Assert.Equal(0.9, t[^1], 12);
        for (int i = 1; i < t.Count; i++) Assert.True(t[i] > t[i - 1]);
        // Pruning the fraction of the remaining weights each round lands on the round's target.
        double remaining = 1;
        for (int r = 1; r <= 4; r++)
        {
            remaining *= 1 - s.FractionOfRemainingAt(r);
            Assert.Equal(s.TargetAt(r), 1 - remaining, 12);
        }
        if (shape == IterativeShape.Geometric)
            Assert.All(Enumerable.Range(1, 4), r => Assert.Equal(1 - Math.Pow(0.1, 0.25), s.FractionOfRemainingAt(r), 12));
    }

    [Fact]
    public void RewindResetsTheWeightsAndKeepsTheMasks()
    {
        var g = new Generator(9);
        var init = new Linear(6, 4, generator: g);
        var initState = init.StateDict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Clone())).ToList();
        using (SharpPrune.Autograd.GradMode.NoGrad()) init["weight"]!.Add_(Tensor.Ones(4, 6)); // "training"
        Prune.L1Unstructured(init, "weight", 0.5);
        var mask = init["weight_mask"]!.ToArray();
        Rewind.To(init, initState);
        Assert.Equal(mask, init["weight_mask"]!.ToArray());
        Assert.Equal(initState[0].Value.ToArray(), init["weight_orig"]!.ToArray());
        var w0 = initState[0].Value.ToArray();
        Assert.Equal(w0.Select((v, i) => v * mask[i]), init["weight"]!.ToArray());
        Assert.Equal(initState[1].Value.ToArray(), init["bias"]!.ToArray());

        var missing = initState.Where(kv => kv.Key != "bias").ToList();
        Assert.Contains("no 'bias'", Assert.Throws<KeyNotFoundException>(() => Rewind.To(init, missing)).Message);
    }
}
