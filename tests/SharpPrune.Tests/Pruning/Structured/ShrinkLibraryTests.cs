using System.Text.RegularExpressions;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Structured;
using SharpPrune.Vision.Models;
using Xunit;
using static SharpPrune.Tests.Pruning.Structured.ShrinkExactnessTests;

namespace SharpPrune.Tests.Pruning.Structured;

public class ShrinkLibraryTests
{
    private static Tensor Cifar1 => Random(new Generator(5), 1, 3, 32, 32);

    [Fact]
    public void VggUniformHalfHalvesEveryConvLikeTheVggRepositoryCfg()
    {
        var vgg = new Vgg(11);
        Shrink.Apply(vgg, Cifar1, new ShrinkOptions { Ratio = 0.5, Layers = new Regex(@"^features\.\d+$") });
        Assert.Equal(new[] { 32, 0, 64, 0, 128, 128, 0, 256, 256, 0, 256, 256 },
            Vgg11Widths(vgg));
        Assert.Equal(256, ((Linear)vgg.GetSubmodule("classifier.0")).InFeatures);
        Assert.Equal(512, ((Linear)vgg.GetSubmodule("classifier.0")).OutFeatures); // not matched by --layers
        Assert.Equal(10, ((Linear)vgg.GetSubmodule("classifier.3")).OutFeatures);  // the classifier's outputs never go
    }

    private static int[] Vgg11Widths(Vgg vgg) =>
        vgg.Features.Layers.Where(l => l is Conv2d or MaxPool2d).Select(l => l is Conv2d c ? c.OutChannels : 0).ToArray();

    [Fact]
    public void PerLayerRatiosAndTheModelOutput()
    {
        var net = new LeNet5();
        var r = Shrink.Apply(net, Random(new Generator(1), 1, 1, 28, 28), new ShrinkOptions
        {
            Ratio = 0, LayerRatios = new Dictionary<string, double> { ["conv2"] = 0.25, ["fc1"] = 0.5 },
        });
        Assert.Equal(6, ((Conv2d)net.GetSubmodule("conv1")).OutChannels);
        Assert.Equal(12, ((Conv2d)net.GetSubmodule("conv2")).OutChannels);
        Assert.Equal(12 * 16, ((Linear)net.GetSubmodule("fc1")).InFeatures); // each channel is 4×4 features
        Assert.Equal(60, ((Linear)net.GetSubmodule("fc1")).OutFeatures);
        Assert.Equal(4, r.RemovedOutputChannels["conv2"].Count);
        Assert.Contains(r.Groups, g => g.Group.Name == "fc3" && !g.Group.IsPrunable && g.Group.NotPrunableReason!.Contains("output"));
    }

    [Fact]
    public void L1RemovesTheFiltersWithTheSmallestNorms()
    {
        var net = new LeNet5();
        var w = ((Conv2d)net.GetSubmodule("conv1")).Weight;
        int per = w.Numel / 6;
        for (int c = 0; c < 6; c++) w.Data.Slice(c * per, per).Fill(new[] { 0.5f, 0.1f, 0.9f, 0.05f, 0.7f, 0.3f }[c]);
        var r = Shrink.Apply(net, Random(new Generator(1), 1, 1, 28, 28), new ShrinkOptions { Ratio = 0.5, Layers = new Regex("conv1") });
        Assert.Equal(new[] { 1, 3, 5 }, r.RemovedOutputChannels["conv1"]);
    }

    [Fact]
    public void TaylorCriterionRunsOnBatchesAndIsExact()
    {
        var model = ModelZoo.Create("resnet20", 10, new Generator(2));
        IEnumerable<Tensor> Losses(Module m)
        {
            for (int b = 0; b < 2; b++)
                yield return F.CrossEntropy(m.Forward(Random(new Generator((ulong)(40 + b)), 4, 3, 32, 32)), new[] { 1, 2, 3, b });
        }
        CheckAgainstMasked(model, Cifar1,
            new ShrinkOptions { Ratio = 0.4, Importance = new TaylorImportance(Losses) });
    }

    [Fact]
    public void AUserScorerDecides()
    {
        var net = new LeNet5();
        // Keep the highest-index channels: score = index.
        var r = Shrink.Apply(net, Random(new Generator(1), 1, 1, 28, 28), new ShrinkOptions
        {
            Ratio = 0.5, Importance = ChannelImportance.FromDelegate(g => g.Channels.Select((_, i) => (double)i).ToArray()),
        });
        Assert.Equal(new[] { 0, 1, 2 }, r.RemovedOutputChannels["conv1"]);
        Assert.Equal(Enumerable.Range(0, 60).ToArray(), r.RemovedOutputChannels["fc1"]);
    }

    [Fact]
    public void CompactingAChannelMaskedModelRemovesItsZeroFiltersAndDropsTheirBnShift()
    {
        var model = ModelZoo.Create("resnet20", 10, new Generator(2));
        RandomizeBatchNorm(model, new Generator(3));
        var conv = model.GetSubmodule("layer1.0.conv1");
        Prune.LnStructured(conv, "weight", 0.5, 1, dim: 0);
        var kept = Enumerable.Range(0, 16).Where(c => ((Tensor)conv["weight_mask"]!).Data[c * 16 * 9] != 0).ToArray();
        var r = Shrink.Compact(model, Cifar1);
        Assert.Equal(8, ((Conv2d)model.GetSubmodule("layer1.0.conv1")).OutChannels);
        Assert.Equal(8, ((BatchNorm2d)model.GetSubmodule("layer1.0.bn1")).NumFeatures);
        Assert.Equal(8, ((Conv2d)model.GetSubmodule("layer1.0.conv2")).InChannels);
        Assert.Equal(Enumerable.Range(0, 16).Except(kept), r.RemovedOutputChannels["layer1.0.conv1"]);
        Assert.False(Prune.IsPruned(model));
        Assert.Equal(16, ((Conv2d)model.GetSubmodule("layer1.1.conv1")).OutChannels); // nothing zero there
    }

    [Fact]
    public void UnsupportedOpsAndLayersAreNamed()
    {
        var e = Assert.Throws<NotSupportedException>(() => ChannelGraph.Build(new PermuteNet(), Random(new Generator(1), 1, 3, 4, 4)));
        Assert.Contains("Permute", e.Message);
        Assert.Contains("PermuteNet", e.Message);
        var g = Assert.Throws<NotSupportedException>(() => ChannelGraph.Build(
            new Sequential(new Conv2d(4, 8, 1, groups: 2), new Flatten(), new Linear(8 * 16, 2)), Random(new Generator(1), 1, 4, 4, 4)));
        Assert.Contains("'0' (Conv2d) with groups=2", g.Message);
    }

    [Fact]
    public void ArchitectureMetadataRoundTripsAShrunkResnet()
    {
        var model = ModelZoo.Create("resnet32", 10, new Generator(2));
        Shrink.Apply(model, Cifar1, new ShrinkOptions { Ratio = 0.5, Global = true, MaxLayerRatio = 0.8 });
        string arch = ModelArchitecture.Describe(model);
        var fresh = ModelZoo.Create("resnet32", 10, new Generator(9));
        ModelArchitecture.Apply(fresh, arch);
        Assert.Equal(arch, ModelArchitecture.Describe(fresh));
        fresh.LoadStateDict(model.StateDict());
        model.Eval(); fresh.Eval();
        Assert.Equal(model.Forward(Cifar1).ToArray(), fresh.Forward(Cifar1).ToArray());
        var wrong = Assert.Throws<InvalidDataException>(() => ModelArchitecture.Apply(ModelZoo.Create("vgg11"), arch));
        Assert.Contains("does not have", wrong.Message);
    }

    private sealed class PermuteNet : Module
    {
        public PermuteNet() { RegisterModule("conv", new Conv2d(3, 4, 1)); }
        protected override Tensor ForwardCore(Tensor x) => GetSubmodule("conv").Forward(x).Permute(0, 2, 3, 1).Flatten(1);
    }
}
