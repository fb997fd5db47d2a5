using Google.Protobuf;
using SharpPrune.NN;
using SharpPrune.Onnx;
using SharpPrune.Onnx.Proto;
using SharpPrune.Pruning.Structured;
using SharpPrune.Tests.Core;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Onnx;

/// <summary>Channel-removed (shrunk) zoo models export, ONNX Runtime agrees with them, and the files import back.</summary>
public sealed class OnnxShrunkExportTests
{
    [Theory]
    [InlineData("lenet5", false)]
    [InlineData("alexnet", true)]
    [InlineData("vgg11", false)]
    [InlineData("vgg11", true)]
    [InlineData("resnet20", false)]
    [InlineData("resnet20", true)]
    [InlineData("preresnet110", false)]
    [InlineData("preresnet110", true)]
    public void ShrunkModelRunsInOnnxRuntimeAndImportsBack(string name, bool global)
    {
        var model = OnnxExportTests.Model(name, seed: 6);
        var shape = ModelZoo.InputShape(name);
        long before = model.Parameters().Sum(p => (long)p.Numel);
        Shrink.Apply(model, Tensor.Randn(new Generator(5), [1, .. shape]), new ShrinkOptions { Ratio = 0.5, Global = global, MaxLayerRatio = 0.8 });
        Assert.True(model.Parameters().Sum(p => (long)p.Numel) < before * 0.7, $"{name}: the shrink removed too little to test anything");

        var onnx = OnnxExporter.Serialize(model, shape);
        OnnxRuntimeRunner.AssertAgrees(model, onnx, shape, $"{name} shrunk{(global ? " (global)" : "")}");
        // Initializers carry the shrunk shapes under the parameters' names.
        foreach (var (key, p) in model.NamedParameters())
            Assert.Equal(p.Shape, OnnxModelInfo.Initializer(onnx, key).Shape);
        // A shortcut whose map is not "input channels, then zeros" is written as Pad + Gather, and only then.
        Assert.Equal(model.Modules().OfType<PadShortcut>().Any(p => p.RoutesChannels), OnnxModelInfo.OpTypes(onnx).Contains("Gather"));

        var imported = OnnxImporter.Read(onnx, name + ".onnx");
        var x = Tensor.Randn(new Generator(8), [2, .. shape]);
        TensorAssert.Close(OnnxRuntimeRunner.Ours(model, x), OnnxRuntimeRunner.Ours(imported, x), 1e-5, $"{name} shrunk, re-imported");
    }

    /// <summary>
    /// conv → relu → a shortcut whose outputs are (zero, input 1, zero, input 0), pooled by 2 → flatten → linear: the
    /// routing a shrink leaves when a block's coupled channels are removed out of order.
    /// </summary>
    private static Sequential Routed() =>
        new(new Conv2d(3, 2, 3, padding: 1, generator: new Generator(1)), new ReLU(),
            new PadShortcut(2, 4, 2, new[] { -1, 1, -1, 0 }), new Flatten(), new Linear(4 * 4 * 4, 3, generator: new Generator(2)));

    private static readonly int[] RoutedInput = { 3, 8, 8 };

    [Fact]
    public void RoutedShortcutExportsAsPadAndGatherAndImportsAsAChannelMap()
    {
        var model = Routed();
        Assert.True(((PadShortcut)model[2]).RoutesChannels);
        var onnx = OnnxExporter.Serialize(model, RoutedInput);
        var ops = OnnxModelInfo.OpTypes(onnx);
        Assert.Contains("Gather", ops);
        Assert.Equal(1, ops.Count(o => o == "Pad")); // one zero channel serves both zero outputs
        OnnxRuntimeRunner.AssertAgrees(model, onnx, RoutedInput, "routed shortcut");

        // Import: the Pad + Gather pair becomes one PadShortcut with the same map (the Pad step is folded into it),
        // which computes the same and exports to the same graph again.
        var imported = OnnxImporter.Read(onnx, "routed.onnx");
        var routing = Assert.Single(imported.Modules().OfType<PadShortcut>());
        Assert.Equal(new[] { -1, 1, -1, 0 }, routing.OutputSources);
        var x = Tensor.Randn(new Generator(3), [5, .. RoutedInput]);
        TensorAssert.Close(OnnxRuntimeRunner.Ours(model, x), OnnxRuntimeRunner.Ours(imported, x), 1e-6, "routed shortcut, re-imported");
        var again = OnnxExporter.Serialize(imported, RoutedInput);
        Assert.Equal(ops.Count(o => o is "Pad" or "Gather"), OnnxModelInfo.OpTypes(again).Count(o => o is "Pad" or "Gather"));
        OnnxRuntimeRunner.AssertAgrees(model, again, RoutedInput, "routed shortcut, imported and exported again");
    }

    [Fact]
    public void ChannelGatherThatIsNoRoutingIsRefusedNamingTheNode()
    {
        // The same graph with the map changed to read input channel 1 twice: not something our layers compute.
        var m = ModelProto.Parser.ParseFrom(OnnxExporter.Serialize(Routed(), RoutedInput));
        var gather = m.Graph.Node.Single(n => n.OpType == "Gather");
        var indices = m.Graph.Initializer.Single(t => t.Name == gather.Input[1]);
        indices.RawData = ByteString.CopyFrom(new long[] { 2, 1, 2, 1 }.SelectMany(BitConverter.GetBytes).ToArray());
        var e = Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(m.ToByteArray(), "dup.onnx"));
        Assert.Contains($"node '{gather.Name}' (Gather)", e.Message);
        Assert.Contains("channel routing", e.Message);

        gather.Attribute.Single(a => a.Name == "axis").I = 2;
        e = Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(m.ToByteArray(), "axis2.onnx"));
        Assert.Contains("Gather along axis 2 is not supported", e.Message);
    }
}
