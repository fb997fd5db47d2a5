using System.Text.Json.Nodes;
using SharpPrune.Autograd;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Onnx;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Structured;
using SharpPrune.Tests.Core;
using SharpPrune.Tests.Onnx;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Interop;

/// <summary>An imported graph's structure (GraphSpec) in a checkpoint rebuilds the same model; a bad description is refused by name.</summary>
public sealed class GraphCheckpointTests
{
    private static OnnxGraphModule RoundTrip(OnnxGraphModule model)
    {
        string path = Path.Combine(Path.GetTempPath(), $"sp-graph-{Guid.NewGuid():N}.safetensors");
        try
        {
            GraphCheckpoint.Save(path, model);
            return GraphCheckpoint.Load(path);
        }
        finally { File.Delete(path); }
    }

    private static void AssertSameModel(OnnxGraphModule expected, OnnxGraphModule actual, string what)
    {
        var a = expected.StateDict(); var b = actual.StateDict();
        Assert.Equal(a.Select(kv => kv.Key), b.Select(kv => kv.Key));
        for (int i = 0; i < a.Count; i++) TensorAssert.Equal(a[i].Value, b[i].Value, $"{what}: {a[i].Key}");
        Assert.Equal(expected.Describe().ToJson(), actual.Describe().ToJson());
        expected.Eval(); actual.Eval();
        var x = Tensor.Randn(new Generator(11), [3, .. expected.InputShape]);
        using var _ = GradMode.NoGrad();
        TensorAssert.Equal(expected.Forward(x), actual.Forward(x), what);
    }

    [Theory]
    [InlineData("lenet5.onnx")]
    [InlineData("vgg_cfg.onnx")]
    [InlineData("resnet8.onnx")]
    public void PyTorchExportRoundTripsThroughACheckpoint(string file)
    {
        var model = OnnxImporter.Load(TorchCheckpointTests.File(file));
        AssertSameModel(model, RoundTrip(model), file);
    }

    [Fact]
    public void RoutedShortcutRoundTrips()
    {
        // A shortcut a shrink reordered (outputs: zero, input 1, zero, input 0) exports as Pad + Gather and imports
        // as a PadShortcut with that channel map, which the description must carry.
        var routed = new Sequential(new Conv2d(3, 2, 3, padding: 1, generator: new Generator(1)), new ReLU(),
            new PadShortcut(2, 4, 2, new[] { -1, 1, -1, 0 }), new Flatten(), new Linear(4 * 4 * 4, 3, generator: new Generator(2)));
        var model = OnnxImporter.Read(OnnxExporter.Serialize(routed, [3, 8, 8]), "routed.onnx");
        Assert.Equal(new[] { -1, 1, -1, 0 }, Assert.Single(model.Modules().OfType<PadShortcut>()).OutputSources);
        AssertSameModel(model, RoundTrip(model), "routed shortcut");
    }

    [Fact]
    public void PrunedThenShrunkImportSavesAndLoads()
    {
        var model = OnnxImporter.Load(TorchCheckpointTests.File("resnet8.onnx"));
        Prune.GlobalUnstructured(model.NamedModules().Where(m => m.Module is Conv2d).Select(m => (m.Module, "weight")).ToList(), GlobalPruningMethod.L1Unstructured, 0.4);
        var pruned = RoundTrip(model);
        Assert.True(pruned.GetSubmodule("conv1").HasBuffer("weight_mask")); // the masks came back as masks
        AssertSameModel(model, pruned, "pruned resnet8");

        long before = pruned.Parameters().Sum(p => (long)p.Numel);
        Shrink.Apply(pruned, Tensor.Zeros([1, 3, 32, 32]), new ShrinkOptions { Ratio = 0.5 });
        Assert.True(pruned.Parameters().Sum(p => (long)p.Numel) < before * 0.8);
        AssertSameModel(pruned, RoundTrip(pruned), "pruned + shrunk resnet8");
    }

    /// <summary>The description of the imported LeNet-5 and its state dict, to corrupt.</summary>
    private static (JsonObject Spec, CheckpointData Checkpoint) LeNet()
    {
        var model = OnnxImporter.Load(TorchCheckpointTests.File("lenet5.onnx"));
        var spec = (JsonObject)JsonNode.Parse(model.Describe().ToJson())!;
        return (spec, new CheckpointData { Model = model.StateDict().ToList(), SourceName = "x.safetensors" });
    }

    private static string Refused(CheckpointData ckpt, JsonNode spec)
    {
        ckpt.Metadata[GraphSpec.MetadataKey] = spec.ToJsonString();
        return Assert.Throws<InvalidDataException>(() => GraphCheckpoint.Load(ckpt)).Message;
    }

    [Fact]
    public void BadDescriptionsAreRefusedNamingWhatIsWrong()
    {
        var (spec, ckpt) = LeNet();
        ckpt.Metadata[GraphSpec.MetadataKey] = spec.ToJsonString();
        GraphCheckpoint.Load(ckpt); // the unmodified description loads

        var s = spec.DeepClone(); s["version"] = 2;
        Assert.Contains("version 2 is not 1", Refused(ckpt, s));
        s = spec.DeepClone(); s["steps"]![0]!["op"] = "softmax";
        Assert.Contains("has op 'softmax'; known:", Refused(ckpt, s));
        s = spec.DeepClone(); s["steps"]![1]!["inputs"]![0] = "nowhere";
        Assert.Contains("reads 'nowhere', which no earlier step", Refused(ckpt, s));
        s = spec.DeepClone(); s["layers"]![1]!["path"] = (string)s["layers"]![0]!["path"]!;
        Assert.Contains("used twice", Refused(ckpt, s));
        s = spec.DeepClone(); s["input"]!["shape"] = new JsonArray(1, 1 << 20, 1 << 20);
        Assert.Contains("more than", Refused(ckpt, s));
        s = spec.DeepClone(); s["layers"]![0]!["stride"] = new JsonArray(0, 1);
        Assert.Contains("'stride' (0, 1) is not two values in [1, 65536]", Refused(ckpt, s));
        s = spec.DeepClone(); s["layers"]![0]!["type"] = "Linear"; // conv1's 4-D weight as a linear layer
        Assert.Contains("rank 2 expected", Refused(ckpt, s));
        s = spec.DeepClone(); s["layers"]![0]!["padding"] = new JsonArray(40, 40); // fits the weights, not the 28x28 sample's next layers
        Assert.Contains("does not fit its tensors", Refused(ckpt, s));
        s = spec.DeepClone(); s["layers"]![0]!["padding"] = new JsonArray(60000, 60000); // a 6 x 120k x 120k output from a 6 x 5 x 5 weight
        Assert.Contains("elements per sample, more than", Refused(ckpt, s));
        s = spec.DeepClone(); s["output"] = "missing";
        Assert.Contains("graph output 'missing' is not computed", Refused(ckpt, s));

        ckpt.Metadata[GraphSpec.MetadataKey] = "{\"format\": ";
        Assert.Contains("is not a valid graph description", Assert.Throws<InvalidDataException>(() => GraphCheckpoint.Load(ckpt)).Message);
        ckpt.Metadata[GraphSpec.MetadataKey] = string.Concat(Enumerable.Repeat("[", 5000));
        Assert.Contains("is not a valid graph description", Assert.Throws<InvalidDataException>(() => GraphCheckpoint.Load(ckpt)).Message);

        // A state dict that does not fit the description: a tensor missing.
        var (good, _) = LeNet();
        var short_ = new CheckpointData { Model = ckpt.Model.Where(kv => kv.Key != "fc3.bias").ToList(), SourceName = "x.safetensors" };
        Assert.Contains("fc3", Refused(short_, good));
    }

    [Fact]
    public void ManyStepsOfAllowedSizeCannotAddUpToGigabytes()
    {
        // 300 ReLUs over a 2^20-element sample: each step is allowed, together they exceed the check run's budget.
        var steps = new JsonArray();
        for (int i = 0; i < 300; i++)
            steps.Add(new JsonObject { ["node"] = $"r{i}", ["op"] = "relu", ["inputs"] = new JsonArray(i == 0 ? "x" : $"v{i - 1}"), ["output"] = $"v{i}" });
        var spec = new JsonObject
        {
            ["format"] = "sharpprune.graph", ["version"] = 1, ["input"] = new JsonObject { ["name"] = "x", ["shape"] = new JsonArray(1 << 20) },
            ["output"] = "v299", ["layers"] = new JsonArray(), ["constants"] = new JsonArray(), ["steps"] = steps,
        };
        var e = Assert.Throws<InvalidDataException>(() => OnnxGraphModule.FromSpec(GraphSpec.FromJson(spec.ToJsonString(), "many.safetensors"), _ => null, "many.safetensors"));
        Assert.Contains("the graph computes more than 268,435,456 elements per sample", e.Message);
    }

    [Fact]
    public void MutatedDescriptionsLoadOrAreRefusedCleanly()
    {
        var (spec, ckpt) = LeNet();
        string json = spec.ToJsonString();
        var rng = new Random(3);
        const string alphabet = "0123456789-[]{}\",:.eE abcxyz";
        for (int trial = 0; trial < 300; trial++)
        {
            var chars = json.ToCharArray();
            for (int k = 0; k < 2; k++) chars[rng.Next(chars.Length)] = alphabet[rng.Next(alphabet.Length)];
            ckpt.Metadata[GraphSpec.MetadataKey] = new string(chars);
            try { GraphCheckpoint.Load(ckpt); }
            catch (InvalidDataException) { }
        }
    }
}
