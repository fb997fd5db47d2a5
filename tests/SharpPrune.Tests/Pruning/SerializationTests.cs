using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using static SharpPrune.Tests.Pruning.PruningTestModules;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// PyTorch's test_pruning_serialization_model / _state_dict / test_random_pruning_pickle, with SafeTensors files
/// in place of pickles: PyTorch's state-dict keys, and a pruned checkpoint loading into a freshly built model.
/// </summary>
public sealed class SerializationTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("sharpprune-pruning-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Sequential Model(ulong seed)
    {
        var g = new Generator(seed);
        return new Sequential(new Linear(10, 10, generator: g), new ReLU(), new Linear(10, 1, generator: g));
    }

    private static List<string> Keys(Module m) => m.StateDict().Select(kv => kv.Key).ToList();

    [Fact] // test_pruning_serialization_model
    public void PruningSerializationModel()
    {
        var model = Model(1);
        Assert.DoesNotContain("0.weight_orig", Keys(model));
        Assert.DoesNotContain("0.weight_mask", Keys(model));
        Assert.Contains("0.weight", Keys(model));

        Prune.L1Unstructured(model[0], "weight", 0.9);
        Assert.Equal(new[] { "0.bias", "0.weight_orig", "0.weight_mask", "2.weight", "2.bias" }, Keys(model));
        Assert.True(model[0].HasAttribute("weight"));
        var pruned = model[0]["weight"]!.ToArray();

        string path = Path.Combine(_dir, "model.safetensors");
        SafeTensors.Save(path, model.StateDict());
        var loaded = SafeTensors.Load(path).Tensors;
        Assert.Equal(Keys(model), loaded.Select(kv => kv.Key).ToList());

        var newModel = Model(2); // different initial weights
        PrunedStateDict.Load(newModel, loaded);
        Assert.Equal(Keys(model), Keys(newModel));
        Assert.True(newModel[0].HasAttribute("weight"));
        Assert.Equal(pruned, newModel[0]["weight"]!.ToArray());
        var x = Tensor.Randn(new Generator(3), 4, 10);
        AssertTensor(model.Forward(x), newModel.Forward(x));
    }

    [Fact] // test_pruning_serialization_state_dict
    public void PruningSerializationStateDict()
    {
        var model = Model(4);
        Prune.L1Unstructured(model[0], "weight", 0.9);
        Assert.Contains("0.weight_orig", Keys(model));
        Assert.Contains("0.weight_mask", Keys(model));
        Assert.DoesNotContain("0.weight", Keys(model));
        var pruned = model[0]["weight"]!.ToArray();

        Prune.Remove(model[0], "weight");
        Assert.DoesNotContain("0.weight_orig", Keys(model));
        Assert.DoesNotContain("0.weight_mask", Keys(model));
        Assert.Contains("0.weight", Keys(model));

        string path = Path.Combine(_dir, "sd.safetensors");
        SafeTensors.Save(path, model.StateDict());
        var newModel = Model(5);
        newModel.LoadStateDict(SafeTensors.Load(path).Tensors);
        Assert.DoesNotContain("0.weight_orig", Keys(newModel));
        Assert.DoesNotContain("0.weight_mask", Keys(newModel));
        Assert.Equal(pruned, newModel[0]["weight"]!.ToArray());
        Assert.Equal(90, pruned.Count(v => v == 0));
    }

    [Fact] // test_random_pruning_pickle: every pruned parameter of both module kinds round-trips
    public void RandomPruningRoundTrips()
    {
        var modules = LinearAndConv3d(6);
        for (int i = 0; i < modules.Length; i++)
            foreach (var name in Names)
            {
                Prune.RandomUnstructured(modules[i], name, 0.1, new Generator(8));
                var bytes = SafeTensors.Serialize(modules[i].StateDict());
                var target = LinearAndConv3d(9)[i];
                PrunedStateDict.Load(target, SafeTensors.Deserialize(bytes, "memory").Tensors);
                Assert.IsType(modules[i].GetType(), target);
                Assert.Equal(modules[i][name]!.ToArray(), target[name]!.ToArray());
                Assert.Equal(Keys(modules[i]), Keys(target));
            }
    }

    [Fact]
    public void StateDictKeysFollowPyTorchOrder()
    {
        // seed 001: conv1 weight pruned, then bias: params (weight_orig, bias_orig) then buffers (weight_mask, bias_mask)
        var conv = new Conv2d(1, 6, 5, generator: new Generator(10));
        var model = new Sequential(conv);
        Prune.RandomStructured(conv, "weight", 2, dim: 0, new Generator(11));
        Assert.Equal(new[] { "0.bias", "0.weight_orig", "0.weight_mask" }, Keys(model));
        Prune.RandomUnstructured(conv, "bias", 1, new Generator(12));
        Assert.Equal(new[] { "0.weight_orig", "0.bias_orig", "0.weight_mask", "0.bias_mask" }, Keys(model));
        Prune.Remove(conv, "bias");
        Prune.Remove(conv, "weight");
        Assert.Equal(new[] { "0.bias", "0.weight" }, Keys(model));
    }

    [Fact]
    public void PrepareFromKeysOnlyUsesOnesMasksUntilLoaded()
    {
        var model = Model(13);
        Prune.LnStructured(model[2], "weight", 0.5, 2, dim: 1);
        var sd = model.StateDict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Clone())).ToList();

        var fresh = Model(14);
        var prepared = PrunedStateDict.Prepare(fresh, sd.Select(kv => kv.Key));
        Assert.Equal(new[] { "2.weight" }, prepared);
        Assert.Equal(10, fresh[2]["weight_mask"]!.CountNonZero());
        fresh.LoadStateDict(sd);
        Prune.Refresh(fresh);
        Assert.Equal(model[2]["weight"]!.ToArray(), fresh[2]["weight"]!.ToArray());
        Assert.Empty(PrunedStateDict.Prepare(fresh, sd.Select(kv => kv.Key))); // already pruned: left alone
    }

    [Fact]
    public void PrepareRejectsMismatchesWithoutTouchingTheModel()
    {
        var fresh = Model(15);
        var bad = new List<KeyValuePair<string, Tensor>>
        {
            new("0.weight_orig", Tensor.Ones(10, 10)), new("0.weight_mask", Tensor.Ones(10, 10)),
            new("2.weight_orig", Tensor.Ones(1, 3)), new("2.weight_mask", Tensor.Ones(1, 3)),
        };
        var e = Assert.Throws<ArgumentException>(() => PrunedStateDict.Prepare(fresh, bad));
        Assert.Equal("state dict key '2.weight_mask' has shape (1, 3) but parameter '2.weight' of the model has shape (1, 10)", e.Message);
        Assert.False(Prune.IsPruned(fresh));

        var missing = new[] { "5.weight_orig", "5.weight_mask" };
        Assert.Contains("'5.weight_mask'", Assert.Throws<KeyNotFoundException>(() => PrunedStateDict.Prepare(fresh, missing)).Message);

        // a buffer that merely ends in _mask (no matching _orig) is not a pruning mask
        Assert.Empty(PrunedStateDict.Prepare(fresh, new[] { "0.attn_mask" }));
    }
}
