using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Vision.Models;

[Collection("ZooModels")]
public class ModelZooTests
{
    // Expected counts are what scripts/model_param_counts.py prints for the same definitions in PyTorch 1.13.
    // AlexNet: seed 000's "Total: 20344650". ResNet-56/110: 0.85M/1.72M and VGG-16: 14.99M (seed 003).
    [Theory]
    [InlineData("lenet5", 44_426, 10)]
    [InlineData("lenet300", 266_610, 6)]
    [InlineData("alexnet", 20_344_650, 16)]
    [InlineData("vgg11", 9_492_042, 57)]
    [InlineData("vgg13", 9_676_746, 69)]
    [InlineData("vgg16", 14_987_722, 87)]
    [InlineData("vgg19", 20_298_698, 105)]
    [InlineData("resnet20", 269_722, 116)]
    [InlineData("resnet32", 464_154, 188)]
    [InlineData("resnet44", 658_586, 260)]
    [InlineData("resnet56", 853_018, 332)]
    [InlineData("resnet110", 1_727_962, 656)]
    [InlineData("preresnet110", 1_146_842, 659)]
    public void ParameterAndStateDictCountsMatchPyTorch(string name, long parameters, int stateDictKeys)
    {
        var m = ZooModels.Get(name);
        Assert.Equal(parameters, m.Parameters().Sum(p => (long)p.Numel));
        Assert.Equal(stateDictKeys, m.StateDict().Count);
    }

    [Fact]
    public void SeedCountsRoundAsQuoted()
    {
        long Count(string n) => ZooModels.Get(n).Parameters().Sum(p => (long)p.Numel);
        Assert.Equal(0.85, Math.Round(Count("resnet56") / 1e6, 2));
        Assert.Equal(1.72, Math.Floor(Count("resnet110") / 1e4) / 100); // 1.727962M, quoted truncated
        Assert.Equal(14.99, Math.Round(Count("vgg16") / 1e6, 2));
    }

    [Fact]
    public void AlexNetStateDictMatchesSeedNamesAndShapes()
    {
        // Names and shapes from seed 000's pruning report, in its order.
        var expected = new (string, int[])[]
        {
            ("conv1.weight", new[] { 64, 3, 11, 11 }), ("conv1.bias", new[] { 64 }),
            ("conv2.weight", new[] { 192, 64, 5, 5 }), ("conv2.bias", new[] { 192 }),
            ("conv3.weight", new[] { 384, 192, 3, 3 }), ("conv3.bias", new[] { 384 }),
            ("conv4.weight", new[] { 256, 384, 3, 3 }), ("conv4.bias", new[] { 256 }),
            ("conv5.weight", new[] { 256, 256, 3, 3 }), ("conv5.bias", new[] { 256 }),
            ("fc1.weight", new[] { 4096, 256 }), ("fc1.bias", new[] { 4096 }),
            ("fc2.weight", new[] { 4096, 4096 }), ("fc2.bias", new[] { 4096 }),
            ("fc3.weight", new[] { 10, 4096 }), ("fc3.bias", new[] { 10 }),
        };
        var sd = ZooModels.Get("alexnet").StateDict();
        Assert.Equal(expected.Select(e => e.Item1), sd.Select(kv => kv.Key));
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i].Item2, sd[i].Value.ShapeCopy());
    }

    [Fact]
    public void ResNetAndVggUsePyTorchNames()
    {
        var r = ZooModels.Get("resnet20").StateDict().Select(kv => kv.Key).ToList();
        Assert.Equal(new[] { "conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var", "bn1.num_batches_tracked",
            "layer1.0.conv1.weight", "layer1.0.bn1.weight" }, r.Take(8));
        Assert.Contains("layer2.0.conv1.weight", r);
        Assert.Contains("layer3.2.bn2.running_var", r);
        Assert.Equal(new[] { "fc.weight", "fc.bias" }, r.TakeLast(2));

        var v = ZooModels.Get("vgg16").StateDict().Select(kv => kv.Key).ToList();
        Assert.Equal(new[] { "features.0.weight", "features.1.weight", "features.1.bias", "features.1.running_mean",
            "features.1.running_var", "features.1.num_batches_tracked", "features.3.weight" }, v.Take(7));
        Assert.Equal(new[] { "classifier.0.weight", "classifier.0.bias", "classifier.1.weight", "classifier.1.bias",
            "classifier.1.running_mean", "classifier.1.running_var", "classifier.1.num_batches_tracked",
            "classifier.3.weight", "classifier.3.bias" }, v.TakeLast(9));

        var p = ZooModels.Get("preresnet110").StateDict().Select(kv => kv.Key).ToList();
        Assert.Equal(new[] { "conv1.weight", "layer1.0.bn1.weight" }, p.Take(2));
        Assert.Contains("layer1.0.downsample.0.weight", p);
        Assert.Contains("layer3.11.conv3.weight", p);
        Assert.DoesNotContain("layer3.12.conv3.weight", p);
        Assert.Equal(new[] { "bn.num_batches_tracked", "fc.weight", "fc.bias" }, p.TakeLast(3));
    }

    [Fact]
    public void NamesShapesAndDatasets()
    {
        Assert.Equal(new[] { "lenet5", "lenet300", "alexnet", "vgg11", "vgg13", "vgg16", "vgg19",
            "resnet20", "resnet32", "resnet44", "resnet56", "resnet110", "preresnet110" }, ModelZoo.Names);
        Assert.Equal(new[] { 1, 28, 28 }, ModelZoo.InputShape("lenet5"));
        Assert.Equal(new[] { 1, 28, 28 }, ModelZoo.InputShape("LeNet-300-100"));
        Assert.Equal(new[] { 3, 32, 32 }, ModelZoo.InputShape("resnet56"));
        Assert.Equal("mnist", ModelZoo.DefaultDataset("lenet-300-100"));
        Assert.Equal("cifar10", ModelZoo.DefaultDataset("vgg16"));
        Assert.IsType<LeNet300_100>(ModelZoo.Create("lenet-300-100"));
        var ex = Assert.Throws<ArgumentException>(() => ModelZoo.Create("resnet57"));
        Assert.Contains("resnet57", ex.Message);
        Assert.Contains("preresnet110", ex.Message);
        Assert.Throws<ArgumentException>(() => new ResNet(57));
        Assert.Throws<ArgumentException>(() => new Vgg(15));
    }

    [Fact]
    public void NumClassesSetsTheLastLayer()
    {
        foreach (var name in new[] { "lenet5", "lenet300", "vgg11", "resnet20", "preresnet110" })
        {
            var last = ModelZoo.Create(name, numClasses: 100, generator: new Generator(7)).StateDict()[^1];
            Assert.Equal(new[] { 100 }, last.Value.ShapeCopy());
        }
    }

    [Fact]
    public void SameSeedSameWeightsOtherSeedOtherWeights()
    {
        var a = ModelZoo.Create("resnet20", generator: new Generator(11)).StateDict();
        var b = ModelZoo.Create("resnet20", generator: new Generator(11)).StateDict();
        var c = ModelZoo.Create("resnet20", generator: new Generator(12)).StateDict();
        Assert.All(a.Zip(b), p => Assert.True(p.First.Value.Equal(p.Second.Value), p.First.Key));
        Assert.False(a[0].Value.Equal(c[0].Value));
    }

    [Fact]
    public void ReferenceInitialisation()
    {
        var r = ZooModels.Get("resnet56");
        // conv N(0, √(2/(k²·out))): layer3 convs have std √(2/576).
        var w = r.GetSubmodule("layer3.4.conv2")["weight"]!;
        Assert.InRange(Std(w), 0.95 * Math.Sqrt(2.0 / 576), 1.05 * Math.Sqrt(2.0 / 576));
        Assert.All(r.GetSubmodule("layer2.0.bn1")["weight"]!.ToArray(), v => Assert.Equal(1f, v));

        var v = ZooModels.Get("vgg16");
        Assert.All(v.GetSubmodule("features.1")["weight"]!.ToArray(), x => Assert.Equal(0.5f, x));
        Assert.All(v.GetSubmodule("classifier.1")["weight"]!.ToArray(), x => Assert.Equal(1f, x));
        Assert.InRange(Std(v.GetSubmodule("classifier.0")["weight"]!), 0.0095, 0.0105);
        Assert.All(v.GetSubmodule("classifier.0")["bias"]!.ToArray(), x => Assert.Equal(0f, x));
    }

    private static double Std(Tensor t)
    {
        var d = t.ToArray();
        double mean = d.Average(x => (double)x);
        return Math.Sqrt(d.Sum(x => (x - mean) * (x - mean)) / d.Length);
    }
}
