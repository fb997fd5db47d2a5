using SharpPrune.Examples.PruningTutorial;

namespace SharpPrune.Tests.Pruning.Tutorial;

/// <summary>
/// The observables of seeds 001/002 as the example prints them: parameter/buffer names, hooks, history,
/// state-dict keys (PyTorch's, in PyTorch's order), sparsities and the custom mask.
/// </summary>
public class PruningTutorialTests
{
    private static readonly Lazy<(PruningTutorialFlow Flow, string Output)> Run = new(() =>
    {
        var w = new StringWriter();
        var flow = PruningTutorialFlow.Run(w);
        return (flow, w.ToString());
    });

    private static IReadOnlyList<string> Obs(string key) => Run.Value.Flow.Observations[key];
    private static string Line(string key) => Assert.Single(Obs(key));

    private static readonly string[] Rest =
        { "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias" };

    [Fact]
    public void Seed002LocalPruningOfConv1()
    {
        Assert.Equal(new[] { "weight (6, 1, 3, 3)", "bias (6,)" }, Obs("002.conv1.named_parameters"));
        Assert.Empty(Obs("002.conv1.named_buffers"));

        Assert.Equal(new[] { "bias (6,)", "weight_orig (6, 1, 3, 3)" }, Obs("002.random.named_parameters"));
        Assert.Equal(new[] { "weight_mask (6, 1, 3, 3)" }, Obs("002.random.named_buffers"));
        Assert.Equal("conv1.weight: 16 of 54 zero", Line("002.random.weight")); // round(0.3 * 54)
        Assert.Equal(new[] { "RandomUnstructured(amount=0.3)" }, Obs("002.random.forward_pre_hooks"));

        Assert.Equal(new[] { "weight_orig (6, 1, 3, 3)", "bias_orig (6,)" }, Obs("002.l1.named_parameters"));
        Assert.Equal(new[] { "weight_mask (6, 1, 3, 3)", "bias_mask (6,)" }, Obs("002.l1.named_buffers"));
        Assert.Equal("conv1.bias: 3 of 6 zero", Line("002.l1.bias"));
        Assert.Equal(new[] { "RandomUnstructured(amount=0.3)", "L1Unstructured(amount=3)" }, Obs("002.l1.forward_pre_hooks"));

        Assert.Equal("conv1.weight: 3 of 6 output channels entirely zero", Line("002.ln.dead_channels"));
        Assert.Equal(new[] { "RandomUnstructured(amount=0.3)", "LnStructured(amount=0.5, n=2, dim=0)" }, Obs("002.ln.history"));
        Assert.Equal(new[] { "conv1.weight_orig", "conv1.bias_orig", "conv1.weight_mask", "conv1.bias_mask" }.Concat(Rest),
            Obs("002.state_dict_keys"));

        Assert.Equal(new[] { "bias_orig (6,)", "weight (6, 1, 3, 3)" }, Obs("002.remove.named_parameters"));
        Assert.Equal(new[] { "bias_mask (6,)" }, Obs("002.remove.named_buffers"));
        Assert.Equal(new[] { "L1Unstructured(amount=3)" }, Obs("002.remove.forward_pre_hooks"));
        Assert.Equal("forward on 1x1x28x28 -> (1, 10)", Line("002.forward"));
    }

    [Fact]
    public void Seed002MultipleParametersGlobalAndCustom()
    {
        Assert.Equal(new[] { "conv1.weight_mask", "conv2.weight_mask", "fc1.weight_mask", "fc2.weight_mask", "fc3.weight_mask" },
            Obs("002.multi.named_buffers"));

        foreach (var layer in new[] { "conv1", "conv2", "fc1", "fc2", "fc3" })
            Assert.Matches($@"^Sparsity in {layer}\.weight: \d+\.\d\d%$", Line("002.global." + layer));
        Assert.Equal("Global sparsity: 20.00%", Line("002.global.all"));

        Assert.Equal(Enumerable.Range(0, 10).Select(i => i % 2 == 0 ? "0" : "1"), Obs("002.foobar.bias_mask"));
        Assert.Equal(new[] { "FooBarPruningMethod()" }, Obs("002.foobar.forward_pre_hooks"));
    }

    [Fact]
    public void Seed001StateDictKeysThroughTheWholeFlow()
    {
        Assert.Equal(new[] { "conv1.weight", "conv1.bias" }.Concat(Rest), Obs("001.state_dict_keys.before"));
        Assert.Equal(new[] { "conv1.bias", "conv1.weight_orig", "conv1.weight_mask" }.Concat(Rest), Obs("001.random_structured.state_dict_keys"));
        Assert.Equal("conv1.weight: 2 of 6 output channels entirely zero", Line("001.random_structured.dead_channels"));
        Assert.Equal(new[] { "RandomStructured(amount=2, dim=0)" }, Obs("001.random_structured.forward_pre_hooks"));
        Assert.Equal(Obs("001.random_structured.state_dict_keys"), Obs("001.ln.state_dict_keys"));
        Assert.Equal(new[] { "RandomStructured(amount=2, dim=0)", "LnStructured(amount=0.5, n=2, dim=0)" }, Obs("001.ln.history"));
        Assert.Equal(new[] { "conv1.weight_orig", "conv1.bias_orig", "conv1.weight_mask", "conv1.bias_mask" }.Concat(Rest),
            Obs("001.bias.state_dict_keys"));
        Assert.Equal(2, Obs("001.bias.forward_pre_hooks").Count);
        Assert.Equal(new[] { "conv1.weight_orig", "conv1.bias_orig", "conv1.weight_mask", "conv1.bias_mask", "conv2.weight", "conv2.bias_orig", "conv2.bias_mask" }
            .Concat(Rest.Skip(2)), Obs("001.conv_bias.state_dict_keys"));
        Assert.Equal(new[] { "conv1.bias", "conv1.weight" }.Concat(Rest), Obs("001.remove.state_dict_keys"));
        Assert.Equal(new[] { "bias (6,)", "weight (6, 1, 3, 3)" }, Obs("001.remove.named_parameters"));
        Assert.Empty(Obs("001.remove.named_buffers"));
        Assert.Empty(Obs("001.remove.forward_pre_hooks"));
    }

    [Fact]
    public void Seed001GlobalPruning()
    {
        Assert.Equal(new[]
        {
            "conv1.bias", "conv1.weight_orig", "conv1.weight_mask", "conv2.bias", "conv2.weight_orig", "conv2.weight_mask",
            "fc1.bias", "fc1.weight_orig", "fc1.weight_mask", "fc2.bias", "fc2.weight_orig", "fc2.weight_mask", "fc3.weight", "fc3.bias",
        }, Obs("001.global.state_dict_keys"));
        Assert.Equal("Global sparsity: 20.00%", Line("001.global.all"));
        // layers end up with different sparsities; the report table closes the output
        var perLayer = new[] { "conv1", "conv2", "fc1", "fc2" }.Select(l => Line("001.global." + l)).ToList();
        Assert.True(perLayer.Distinct().Count() > 1);
        Assert.Contains("Alive: ", Run.Value.Output);
        Assert.Contains("fc1.weight           | Nonzeros weight = ", Run.Value.Output);
    }

    [Fact]
    public void FlowIsDeterministic()
    {
        var again = PruningTutorialFlow.Run(TextWriter.Null);
        Assert.Equal(Run.Value.Flow.Observations.Keys, again.Observations.Keys);
        foreach (var (k, v) in Run.Value.Flow.Observations) Assert.Equal(v, again.Observations[k]);
    }
}
