using SharpPrune.Autograd;
using SharpPrune.IO.Torch;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Tests.Core;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Interop;

/// <summary>torch.save files made by scripts/make_interop_fixtures.py load and give PyTorch's outputs.</summary>
public sealed class TorchCheckpointTests
{
    internal static readonly Lazy<SharpPrune.IO.SafeTensorsFile> Expected = new(() => Fixtures.Load("interop", "expected.safetensors"));
    internal static string File(string name) => Fixtures.Path("interop", name);

    internal static void AssertOutput(Module model, string key) => AssertOutput(model, key, key);

    internal static void AssertOutput(Module model, string inputKey, string outputKey) =>
        AssertOutput(model, Expected.Value.Get(inputKey + ".x"), Expected.Value.Get(outputKey + ".y"), outputKey);

    /// <summary>The eval-mode output of <paramref name="model"/> on <paramref name="x"/> is PyTorch's <paramref name="expected"/> (1e-5).</summary>
    internal static void AssertOutput(Module model, Tensor x, Tensor expected, string what)
    {
        model.Eval();
        Tensor y;
        using (GradMode.NoGrad()) y = model.Forward(x);
        TensorAssert.Close(expected, y, 1e-5, what);
    }

    [Fact]
    public void BareStateDictLoadsAndGivesPytorchsOutput()
    {
        var f = TorchCheckpoint.Load(File("lenet5_state_dict.pt"));
        Assert.Null(f.StateDictKey);
        Assert.False(f.StrippedModulePrefix);
        var model = new LeNet5();
        model.LoadStateDict(f.StateDict);
        AssertOutput(model, "lenet5");
    }

    [Fact]
    public void DataParallelCheckpointDictIsUnwrapped()
    {
        var f = TorchCheckpoint.Load(File("lenet5_dataparallel.pth.tar"));
        Assert.Equal("state_dict", f.StateDictKey);
        Assert.True(f.StrippedModulePrefix);
        Assert.Equal("12", f.Metadata["epoch"]);
        Assert.Equal("91.25", f.Metadata["best_prec1"]);
        var model = new LeNet5();
        model.LoadStateDict(f.StateDict);
        AssertOutput(model, "lenet5", "lenet5_dp");
    }

    [Fact]
    public void PrunedModelWithOrigAndMaskKeysLoadsItsMasks()
    {
        var f = TorchCheckpoint.Load(File("lenet5_pruned.pth"));
        Assert.Equal("net", f.StateDictKey);
        Assert.Contains(f.StateDict, kv => kv.Key == "conv2.weight_mask");
        var model = new LeNet5();
        PrunedStateDict.Load(model, f.StateDict);
        AssertOutput(model, "lenet5_pruned");
    }

    [Fact]
    public void VggCfgCheckpointBuildsTheNarrowModel()
    {
        var f = TorchCheckpoint.Load(File("vgg_cfg.pth.tar"));
        Assert.Equal("[8,\"M\",8,\"M\",16,\"M\",16,\"M\",16]", f.Metadata["cfg"]);
        var model = new Vgg(new[] { 8, 0, 8, 0, 16, 0, 16, 0, 16 });
        model.LoadStateDict(f.StateDict);
        AssertOutput(model, "vgg_cfg");
    }

    internal static readonly Lazy<SharpPrune.IO.SafeTensorsFile> SlimmingExpected = new(() => Fixtures.Load("interop", "vgg_slimming_expected.safetensors"));

    /// <summary>network-slimming's VGG file (feature.N, a single-Linear classifier, cfg) as a zoo VGG, by cfg.</summary>
    private static (Vgg Model, SharpPrune.IO.CheckpointData Checkpoint) SlimmingVgg()
    {
        var f = TorchCheckpoint.Load(File("vgg_slimming.pth.tar"));
        var ckpt = new SharpPrune.IO.CheckpointData { Model = f.StateDict, Metadata = f.Metadata, SourceName = "vgg_slimming.pth.tar" };
        Assert.True(VggCheckpoints.Applies(ckpt));
        return (VggCheckpoints.Create(19, 10, ckpt), ckpt);
    }

    [Fact]
    public void NetworkSlimmingVggLoadsByItsCfgAndGivesPytorchsOutput()
    {
        var (model, ckpt) = SlimmingVgg();
        Assert.Equal(VggHead.Linear, model.Head);
        Assert.Equal(new[] { 8, 8, 0, 16, 0, 16, 12, 0, 24, 0, 20 }, model.Config);
        var keys = ckpt.Model.Select(kv => kv.Key).ToList();
        Assert.DoesNotContain(keys, k => k.StartsWith("feature.", StringComparison.Ordinal));
        Assert.Contains("classifier.0.weight", keys);
        // The 12-wide conv (the cfg's 5th width, after two pools) and its BatchNorm: the repository's feature.14/15.
        Assert.Equal(new[] { 12, 16, 3, 3 }, ckpt.Model.Single(kv => kv.Key == "features.14.weight").Value.Shape);
        Assert.Equal(new[] { 12 }, ckpt.Model.Single(kv => kv.Key == "features.15.running_var").Value.Shape);
        model.LoadStateDict(ckpt.Model);
        AssertOutput(model, SlimmingExpected.Value.Get("x"), SlimmingExpected.Value.Get("y"), "network-slimming vgg");
    }

    [Fact]
    public void NetworkSlimmingNamesThatTheCfgDoesNotPlaceAreRefused()
    {
        var f = TorchCheckpoint.Load(File("vgg_slimming.pth.tar"));
        // feature.2 is a ReLU in the repository's Sequential: no tensor can sit there.
        var bad = f.StateDict.Select(kv => kv.Key == "feature.1.bias" ? new KeyValuePair<string, Tensor>("feature.2.bias", kv.Value) : kv).ToList();
        var ckpt = new SharpPrune.IO.CheckpointData { Model = bad, Metadata = f.Metadata, SourceName = "bad.pth.tar" };
        var e = Assert.Throws<InvalidDataException>(() => VggCheckpoints.Create(19, 10, ckpt));
        Assert.Contains("'feature.2.bias' is not a conv or BatchNorm of the cfg [8, 8, M, 16, M, 16, 12, M, 24, M, 20]", e.Message);
        ckpt = new SharpPrune.IO.CheckpointData { Model = f.StateDict, Metadata = new() { ["cfg"] = "[8, \"M\", -3]" }, SourceName = "bad.pth.tar" };
        Assert.Contains("is not a VGG configuration", Assert.Throws<InvalidDataException>(() => VggCheckpoints.Create(19, 10, ckpt)).Message);
        ckpt = new SharpPrune.IO.CheckpointData { Model = f.StateDict, Metadata = new() { ["cfg"] = "[65536, 65536]" }, SourceName = "huge.pth.tar" };
        Assert.Contains("its cfg describes 38,656,475,136 conv weights but the checkpoint holds", Assert.Throws<InvalidDataException>(() => VggCheckpoints.Create(19, 10, ckpt)).Message);
    }

    [Fact]
    public void Float16ResnetLoads()
    {
        var f = TorchCheckpoint.Load(File("resnet8_half.pt"));
        var model = new ResNet(8);
        model.LoadStateDict(f.StateDict);
        AssertOutput(model, "resnet8");
    }

    [Fact]
    public void EveryDtypeAndStridedViewsConvertExactly()
    {
        var f = TorchCheckpoint.Load(File("dtypes.pt"));
        foreach (var (k, t) in f.StateDict)
            TensorAssert.Equal(Expected.Value.Get("dtypes." + k), t, k);
        Assert.Equal(new[] { "f32", "f16", "bf16", "f64", "i64", "scalar", "transposed", "offset_view", "base" }, f.StateDict.Select(kv => kv.Key));
    }

    [Fact]
    public void SaveThenLoadIsBitExactAndKeepsOrder()
    {
        var model = ModelZoo.Create("resnet20", 10, new Generator(4));
        Prune.L1Unstructured(model.GetSubmodule("conv1"), "weight", 0.5);
        var sd = model.StateDict();
        string path = Path.Combine(Path.GetTempPath(), $"sp-{Guid.NewGuid():N}.pt");
        try
        {
            TorchCheckpoint.Save(path, sd);
            var back = TorchCheckpoint.Load(path).StateDict;
            Assert.Equal(sd.Select(kv => kv.Key), back.Select(kv => kv.Key));
            for (int i = 0; i < sd.Count; i++) TensorAssert.Equal(sd[i].Value, back[i].Value, sd[i].Key);
        }
        finally { System.IO.File.Delete(path); }
    }

    [Fact]
    public void BakedStateDictMultipliesMasksIn()
    {
        var f = TorchCheckpoint.Load(File("lenet5_pruned.pth"));
        var baked = PrunedStateDict.Baked(f.StateDict);
        Assert.DoesNotContain(baked, kv => kv.Key.EndsWith("_orig") || kv.Key.EndsWith("_mask"));
        var model = new LeNet5();
        model.LoadStateDict(baked);
        AssertOutput(model, "lenet5_pruned");
    }
}
