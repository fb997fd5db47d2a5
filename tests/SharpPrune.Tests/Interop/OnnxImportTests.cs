using Google.Protobuf;
using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Onnx;
using SharpPrune.Onnx.Proto;
using SharpPrune.Optim;
using SharpPrune.Pruning;
using SharpPrune.Tests.Core;
using SharpPrune.Tests.Onnx;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Interop;

/// <summary>ONNX files (PyTorch's and our own) import into modules of our layers that compute the same outputs.</summary>
public sealed class OnnxImportTests
{
    [Theory]
    [InlineData("lenet5.onnx", "lenet5", "lenet5_onnx")]
    [InlineData("vgg_cfg.onnx", "vgg_cfg", "vgg_cfg")]
    [InlineData("resnet8.onnx", "resnet8", "resnet8")]
    public void PyTorchExportImportsAndGivesPytorchsOutput(string file, string input, string output)
    {
        var model = OnnxImporter.Load(TorchCheckpointTests.File(file));
        TorchCheckpointTests.AssertOutput(model, input, output);
    }

    [Fact]
    public void PyTorchNamesBecomeModulePaths()
    {
        var keys = OnnxImporter.Load(TorchCheckpointTests.File("resnet8.onnx")).StateDict().Select(kv => kv.Key).ToList();
        Assert.Contains("layer1.0.conv1.weight", keys);
        Assert.Contains("layer2.0.conv2.bias", keys); // PyTorch's exporter folded bn2 into conv2
        Assert.Contains("fc.weight", keys);
        var lenet = OnnxImporter.Load(TorchCheckpointTests.File("lenet5.onnx")).StateDict().Select(kv => kv.Key);
        Assert.Equal(new LeNet5().StateDict().Select(kv => kv.Key), lenet);
    }

    [Theory]
    [InlineData("lenet5")]
    [InlineData("resnet20")]
    [InlineData("vgg11")]
    [InlineData("preresnet110")]
    public void OurExportImportsWithTheSameStateDictAndOutputs(string name)
    {
        var model = OnnxExportTests.Model(name, seed: 5);
        var shape = ModelZoo.InputShape(name);
        var imported = OnnxImporter.Read(OnnxExporter.Serialize(model, shape), name + ".onnx");
        var ours = model.StateDict().Where(kv => !kv.Key.EndsWith("num_batches_tracked")).ToList();
        var theirs = imported.StateDict().Where(kv => !kv.Key.EndsWith("num_batches_tracked")).ToList();
        Assert.Equal(ours.Select(kv => kv.Key), theirs.Select(kv => kv.Key));
        for (int i = 0; i < ours.Count; i++) TensorAssert.Equal(ours[i].Value, theirs[i].Value, ours[i].Key);
        Assert.Equal(shape, imported.InputShape);
        var x = Tensor.Randn(new Generator(9), new[] { 2 }.Concat(shape).ToArray());
        TensorAssert.Close(OnnxRuntimeRunner.Ours(model, x), OnnxRuntimeRunner.Ours(imported, x), 1e-5, name);
    }

    [Fact]
    public void ImportedPytorchResnetPrunesFineTunesAndExportsAgain()
    {
        var model = OnnxImporter.Load(TorchCheckpointTests.File("resnet8.onnx"));
        var convs = model.NamedModules().Where(m => m.Module is Conv2d or Linear).Select(m => (m.Module, "weight")).ToList();
        Prune.GlobalUnstructured(convs, GlobalPruningMethod.L1Unstructured, 0.5);
        var g = new Generator(3);
        var opt = new SGD(model.Parameters(), lr: 0.01);
        model.Train();
        for (int step = 0; step < 2; step++)
        {
            var x = Tensor.Randn(g, 4, 3, 32, 32);
            var loss = F.CrossEntropy(model.Forward(x), new[] { 0, 1, 2, 3 });
            opt.ZeroGrad();
            loss.Backward();
            opt.Step();
        }
        var onnx = OnnxExporter.Serialize(model, model.InputShape);
        OnnxRuntimeRunner.AssertAgrees(model, onnx, model.InputShape.ToArray(), "resnet8 pruned + fine-tuned");
        // The option-A shortcut PyTorch wrote as Shape/Gather/ConstantOfShape/Concat comes back as one Pad.
        Assert.Contains("Pad", OnnxModelInfo.OpTypes(onnx));
        Assert.DoesNotContain("ConstantOfShape", OnnxModelInfo.OpTypes(onnx));
        var w = OnnxModelInfo.Initializer(onnx, "layer1.0.conv1.weight");
        Assert.Contains(0f, w.ToArray());
    }

    [Fact]
    public void UnsupportedOpsAreListed()
    {
        var m = Minimal();
        m.Graph.Node.Add(new NodeProto { OpType = "Softmax", Input = { "y" }, Output = { "z" } });
        m.Graph.Node.Add(new NodeProto { OpType = "LSTM", Input = { "z" }, Output = { "w" } });
        var e = Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(m.ToByteArray(), "m.onnx"));
        Assert.Contains("unsupported ONNX ops: Softmax, LSTM", e.Message);
    }

    /// <summary>input (N, 4) → Relu → y.</summary>
    private static ModelProto Minimal()
    {
        var g = new GraphProto { Name = "g" };
        g.Input.Add(GraphBuilder.ValueInfo("x", new[] { 1, 4 }, "batch"));
        g.Output.Add(GraphBuilder.ValueInfo("y", new[] { 1, 4 }, "batch"));
        g.Node.Add(new NodeProto { OpType = "Relu", Name = "r", Input = { "x" }, Output = { "y" } });
        var m = new ModelProto { IrVersion = 8, Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return m;
    }

    [Fact]
    public void MinimalGraphRuns()
    {
        var model = OnnxImporter.Read(Minimal().ToByteArray(), "m.onnx");
        using var _ = GradMode.NoGrad();
        Assert.Equal(new[] { 0f, 2f, 0f, 1f }, model.Forward(Tensor.FromArray(new[] { -1f, 2f, -3f, 1f }, 1, 4)).ToArray());
    }

    [Fact]
    public void HostileFilesAreRefusedCleanly()
    {
        // Truncations of a real file.
        var bytes = File.ReadAllBytes(TorchCheckpointTests.File("lenet5.onnx"));
        for (int n = 1; n < bytes.Length; n += 1 + n / 2)
            Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(bytes[..n], "cut.onnx"));

        // Raw data shorter than the dims say; dims larger than memory.
        var m = Minimal();
        m.Graph.Initializer.Add(new TensorProto { Name = "w", DataType = 1, Dims = { 4, 4 }, RawData = ByteString.CopyFrom(new byte[12]) });
        Assert.Contains("needs 64 bytes of raw data; it has 12", Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(m.ToByteArray(), "m.onnx")).Message);
        m = Minimal();
        m.Graph.Initializer.Add(new TensorProto { Name = "w", DataType = 1, Dims = { 1L << 20, 1L << 20 }, RawData = ByteString.CopyFrom(new byte[4]) });
        Assert.Contains("more than", Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(m.ToByteArray(), "m.onnx")).Message);

        // A shape computed into a huge tensor, a huge declared input.
        m = Minimal();
        m.Graph.Node.Add(new NodeProto { OpType = "Constant", Name = "c", Output = { "s" }, Attribute = { new AttributeProto { Name = "value_ints", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 100000, 100000 } } } });
        m.Graph.Node.Add(new NodeProto { OpType = "ConstantOfShape", Name = "big", Input = { "s" }, Output = { "z" } });
        Assert.Contains("exceeds", Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(m.ToByteArray(), "m.onnx")).Message);
        m = Minimal();
        m.Graph.Input[0] = GraphBuilder.ValueInfo("x", new[] { 1, 1 << 20, 1 << 20 }, "batch");
        Assert.Contains("exceeds", Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(m.ToByteArray(), "m.onnx")).Message);

        // Deeply nested groups in an unknown field: the parser's recursion limit, not the stack.
        var deep = new List<byte>();
        for (int i = 0; i < 5000; i++) deep.Add((30 << 3) | 3); // start group, field 30
        Assert.Throws<OnnxFormatException>(() => OnnxImporter.Read(deep.ToArray(), "deep.onnx"));

        // Random byte mutations: a clean import or an OnnxFormatException, nothing else.
        var rng = new Random(7);
        for (int trial = 0; trial < 150; trial++)
        {
            var b = (byte[])bytes.Clone();
            for (int k = 0; k < 3; k++) b[rng.Next(Math.Min(b.Length, 4000))] = (byte)rng.Next(256);
            try { OnnxImporter.Read(b, "mutated.onnx"); }
            catch (OnnxFormatException) { }
        }
    }
}
