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

    internal static void AssertOutput(Module model, string key)
    {
        model.Eval();
        Tensor y;
        using (GradMode.NoGrad()) y = model.Forward(Expected.Value.Get(key + ".x"));
        TensorAssert.Close(Expected.Value.Get(key + ".y"), y, 1e-5, key);
    }

    internal static void AssertOutput(Module model, string inputKey, string outputKey)
    {
        model.Eval();
        Tensor y;
        using (GradMode.NoGrad()) y = model.Forward(Expected.Value.Get(inputKey + ".x"));
        TensorAssert.Close(Expected.Value.Get(outputKey + ".y"), y, 1e-5, outputKey);
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
