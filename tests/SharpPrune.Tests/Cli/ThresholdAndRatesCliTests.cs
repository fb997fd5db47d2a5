using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Cli;

/// <summary><c>prune --method threshold --quality Q</c> and <c>prune --rates 'layer=r,...'</c> give the library's masks.</summary>
public class ThresholdAndRatesCliTests
{
    private static (string Dense, LeNet5 Model, string Dir) Dense()
    {
        string dir = CliRunner.TempDir(), dense = Path.Combine(dir, "dense.safetensors");
        var model = new LeNet5(10, new Generator(5));
        Checkpoint.Save(dense, model, null, null, new Dictionary<string, string> { [CheckpointKeys.Model] = "lenet5", [CheckpointKeys.NumClasses] = "10" });
        return (dense, model, dir);
    }

    private static void AssertMasks(Module expectedModel, string pruned, string what)
    {
        var expected = expectedModel.StateDict().Where(kv => kv.Key.EndsWith("_mask")).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        var actual = Checkpoint.Load(pruned).Model.Where(kv => kv.Key.EndsWith("_mask")).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, mask) in expected) Assert.True(mask.SequenceEqual(actual[key]), $"{what}: {key} differs from the library's mask");
    }

    [Fact]
    public void ThresholdPrunesAsTheLibraryAndRecordsItsQuality()
    {
        var (dense, model, dir) = Dense();
        string pruned = Path.Combine(dir, "p.safetensors");
        var r = CliRunner.Ok("prune", "--load", dense, "--method", "threshold", "--quality", "0.7", "--save", pruned);
        Assert.Contains("with threshold quality=0.7", r.Out);
        foreach (var (_, m) in model.NamedModules().Where(m => m.Module is Conv2d or Linear)) Prune.Apply(m, "weight", new ThresholdUnstructured(0.7));
        AssertMasks(model, pruned, "threshold");
        using var history = JsonDocument.Parse(Checkpoint.Load(pruned).Get("pruning")!);
        var step = history.RootElement.EnumerateArray().Single();
        Assert.Equal(0.7, step.GetProperty("quality").GetDouble());
        Assert.Equal(JsonValueKind.Null, step.GetProperty("amount").ValueKind);
    }

    [Fact]
    public void RatesPruneEachNamedLayerByItsOwnFraction()
    {
        var (dense, model, dir) = Dense();
        string pruned = Path.Combine(dir, "p.safetensors");
        var r = CliRunner.Ok("prune", "--load", dense, "--method", "l1-unstructured", "--rates", "conv1=0.16,conv2=0.62,fc2=0.9497", "--save", pruned);
        Assert.Contains("pruned 3 tensors of 3 layers with l1-unstructured rates=conv1=0.16,conv2=0.62,fc2=0.9497", r.Out);
        Assert.Contains("conv1.weight         | Nonzeros weight =     126 /     150 ( 84.00%)", r.Out);
        LayerRates.Parse("conv1=0.16,conv2=0.62,fc2=0.9497").Apply(model);
        AssertMasks(model, pruned, "rates");
    }

    [Theory]
    [InlineData(new[] { "--method", "threshold" }, "--method threshold needs --quality, e.g. 0.7")]
    [InlineData(new[] { "--method", "threshold", "--quality", "0.7", "--amount", "0.5" }, "prunes by --quality")]
    [InlineData(new[] { "--method", "l1-unstructured", "--quality", "0.7", "--amount", "0.5" }, "--quality is for --method threshold")]
    [InlineData(new[] { "--method", "global-l1", "--rates", "conv1=0.5" }, "a global method (--method global-l1) cannot")]
    [InlineData(new[] { "--method", "l1-unstructured", "--rates", "conv1=0.5", "--amount", "0.5" }, "leave out --amount")]
    [InlineData(new[] { "--method", "l1-unstructured", "--rates", "conv9=0.5" }, "--rates names 'conv9', which is not a Conv2d/Linear layer of the model: conv1, conv2, fc1, fc2, fc3")]
    [InlineData(new[] { "--method", "l1-unstructured", "--rates", "conv1=1.5" }, "--rates: rate of 'conv1' must be a fraction in [0, 1], got 1.5")]
    [InlineData(new[] { "--method", "l1-unstructured" }, "--amount is required (or --rates")]
    [InlineData(new[] { "--method", "threshold", "--quality", "-1" }, "--quality must be in [0, 100], got -1")]
    public void Misused_options_are_usage_errors(string[] args, string message)
    {
        var (dense, _, dir) = Dense();
        var r = CliRunner.Run(["prune", "--load", dense, "--save", Path.Combine(dir, "p.safetensors"), .. args]);
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(message, r.Err);
    }
}
