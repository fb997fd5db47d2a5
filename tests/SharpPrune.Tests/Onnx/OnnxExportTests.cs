using SharpPrune.NN;
using SharpPrune.Onnx;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Onnx;

/// <summary>Every zoo model exports to ONNX and ONNX Runtime computes what our forward computes.</summary>
public sealed class OnnxExportTests
{
    public static TheoryData<string> Names() => new(ModelZoo.Names);

    /// <summary>A zoo model with non-trivial BatchNorm statistics (fresh ones are mean 0 / variance 1).</summary>
    internal static Module Model(string name, ulong seed = 1)
    {
        var g = new Generator(seed);
        var model = ModelZoo.Create(name, 10, g);
        foreach (var m in model.Modules().OfType<BatchNormBase>())
        {
            int n = m.NumFeatures;
            m.RunningMean!.CopyFrom(Tensor.Randn(g, n).MulScalar(0.1f));
            m.RunningVar!.CopyFrom(Tensor.Rand(g, n).AddScalar(0.5f));
            m.Weight!.Detach().CopyFrom(Tensor.Rand(g, n).AddScalar(0.5f));
            m.Bias!.Detach().CopyFrom(Tensor.Randn(g, n).MulScalar(0.1f));
        }
        return model;
    }

    [Theory, MemberData(nameof(Names))]
    public void DenseModelRunsInOnnxRuntime(string name)
    {
        var model = Model(name);
        var shape = ModelZoo.InputShape(name);
        var onnx = OnnxExporter.Serialize(model, shape);
        OnnxRuntimeRunner.AssertAgrees(model, onnx, shape, name);
        var initializers = OnnxModelInfo.InitializerNames(onnx);
        foreach (var (key, _) in model.NamedParameters())
            Assert.Contains(key, initializers);
    }

    [Theory, MemberData(nameof(Names))]
    public void MaskedModelExportsWithMasksBakedIn(string name)
    {
        var model = Model(name, seed: 2);
        var weights = model.NamedModules().Where(m => m.Module is Conv2d or Linear).Select(m => (m.Module, "weight")).ToList();
        Prune.GlobalUnstructured(weights, GlobalPruningMethod.L1Unstructured, 0.6);
        var shape = ModelZoo.InputShape(name);
        var onnx = OnnxExporter.Serialize(model, shape);
        OnnxRuntimeRunner.AssertAgrees(model, onnx, shape, name + " masked");
        // The initializer is the masked weight under the parameter's name, zero exactly where the mask is.
        var (path, layer) = model.NamedModules().First(m => m.Module is Conv2d or Linear);
        var exported = OnnxModelInfo.Initializer(onnx, path + ".weight");
        var mask = layer["weight_mask"]!;
        Assert.Contains(mask.ToArray(), m => m == 0);
        for (int i = 0; i < mask.Numel; i++)
            if (mask.Data[i] == 0) Assert.Equal(0f, exported.Data[i]);
        Assert.Equal(layer["weight"]!.ToArray(), exported.ToArray());
    }

    [Theory]
    [InlineData("resnet20")]
    [InlineData("vgg11")]
    [InlineData("preresnet110")]
    public void FoldedBatchNormAgreesAndDropsTheBnNodes(string name)
    {
        var model = Model(name, seed: 3);
        var shape = ModelZoo.InputShape(name);
        var onnx = OnnxExporter.Serialize(model, shape, new OnnxExportOptions { FoldBatchNorm = true });
        OnnxRuntimeRunner.AssertAgrees(model, onnx, shape, name + " folded");
        var ops = OnnxModelInfo.OpTypes(onnx);
        int convFollowedByBn = name == "preresnet110" ? 0 : model.Modules().OfType<Conv2d>().Count(); // pre-activation: BN reads the block input
        Assert.Equal(model.Modules().OfType<BatchNormBase>().Count() - (name == "preresnet110" ? CountPreActFolds(model) : convFollowedByBn),
            ops.Count(o => o == "BatchNormalization"));
    }

    // In a pre-activation bottleneck, bn2 and bn3 read conv1's and conv2's outputs: those fold; bn1 and the final bn do not.
    private static int CountPreActFolds(Module model) => model.Modules().OfType<PreActBottleneck>().Count() * 2;

    [Fact]
    public void UnsupportedOpsAreListedInOneError()
    {
        var model = new Exotic();
        var e = Assert.Throws<NotSupportedException>(() => OnnxExporter.Serialize(model, new[] { 4 }));
        Assert.Contains("ExpBackward", e.Message);
        Assert.Contains("SqrtBackward", e.Message);
    }

    private sealed class Exotic : Module
    {
        public Exotic() => RegisterModule("fc", new Linear(4, 4));
        protected override Tensor ForwardCore(Tensor x) => GetSubmodule("fc").Forward(x).Exp().Sqrt();
    }

    [Fact]
    public void ExportFileIsWrittenAtomicallyAndReloads()
    {
        var model = Model("lenet5");
        string dir = Directory.CreateTempSubdirectory("sp-onnx").FullName;
        try
        {
            string path = Path.Combine(dir, "m.onnx");
            OnnxExporter.Save(model, new[] { 1, 28, 28 }, path);
            Assert.Equal(OnnxExporter.Serialize(model, new[] { 1, 28, 28 }), File.ReadAllBytes(path));
            Assert.Single(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
    }
}
