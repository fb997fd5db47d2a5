using SharpPrune.NN;
using SharpPrune.Pruning.Structured;
using SharpPrune.Vision.Models;
using Xunit;

namespace SharpPrune.Tests.Pruning.Structured;

/// <summary>
/// The shrunk model against its mathematically equivalent masked model: the dense model with the removed
/// channels' filters, biases and BatchNorm γ/β zeroed. Outputs and the gradients of every kept weight must agree.
/// </summary>
public class ShrinkExactnessTests
{
    public static TheoryData<string, int> ZooModels() => new()
    {
        { "lenet5", 3 }, { "lenet300", 3 }, { "alexnet", 2 }, { "vgg11", 2 }, { "vgg13", 1 }, { "vgg16", 1 }, { "vgg19", 1 },
        { "resnet20", 2 }, { "resnet32", 2 }, { "resnet44", 1 }, { "resnet56", 1 }, { "resnet110", 1 }, { "preresnet110", 1 },
    };

    [Theory]
    [MemberData(nameof(ZooModels))]
    public void ZooModelShrunkEqualsMaskedDenseModel(string name, int batch)
    {
        var input = Random(new Generator(5), new[] { batch }.Concat(ModelZoo.InputShape(name)).ToArray());
        CheckAgainstMasked(ModelZoo.Create(name, 10, new Generator(3)), input, new ShrinkOptions { Ratio = 0.5 });
    }

    [Fact]
    public void UserResidualModuleWithConcatAndDepthwiseConv()
    {
        var input = Random(new Generator(5), 2, 3, 8, 8);
        CheckAgainstMasked(new UserNet(), input, new ShrinkOptions { Ratio = 0.4, Importance = new MagnitudeImportance(2) });
    }

    [Theory]
    [InlineData("l2"), InlineData("bn-scale"), InlineData("fpgm"), InlineData("random")]
    public void EveryCriterionGivesAnExactSmallerModel(string criterion)
    {
        var input = Random(new Generator(5), 1, 3, 32, 32);
        CheckAgainstMasked(ModelZoo.Create("resnet20", 10, new Generator(3)), input,
            new ShrinkOptions { Ratio = 0.3, Importance = ChannelImportance.ByName(criterion, generator: new Generator(1)) });
    }

    [Fact]
    public void GlobalRankingWithCapAndRounding()
    {
        var input = Random(new Generator(5), 1, 3, 32, 32);
        var r = CheckAgainstMasked(ModelZoo.Create("vgg11", 10, new Generator(3)), input,
            new ShrinkOptions { Ratio = 0.5, Global = true, MaxLayerRatio = 0.75, RoundTo = 8 });
        foreach (var (g, removed) in r.Groups.Where(g => g.Group.IsPrunable))
        {
            Assert.True(removed <= 0.75 * g.Channels.Count, $"{g.Name} lost {removed} of {g.Channels.Count}");
            Assert.Equal(0, (g.Channels.Count - removed) % 8);
        }
    }

    /// <summary>
    /// Plans the removal on <paramref name="model"/>, runs the masked model (the plan's filters, biases, BN γ/β
    /// zeroed) forward and backward, restores the weights, shrinks (<see cref="Shrink.Execute"/>, what
    /// <see cref="Shrink.Apply"/> ends with) and compares outputs and the gradients of every kept weight.
    /// </summary>
    internal static ShrinkResult CheckAgainstMasked(Module model, Tensor input, ShrinkOptions options)
    {
        RandomizeBatchNorm(model, new Generator(11));
        var graph = ChannelGraph.Build(model, input);
        options.Importance.Prepare(model, graph);
        var plan = Shrink.Plan(graph, options);
        Assert.NotEmpty(plan);
        long denseParams = model.Parameters().Sum(p => (long)p.Numel);

        var saved = model.StateDict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Clone())).ToList();
        var removedMembers = plan.SelectMany(kv => kv.Value.SelectMany(c => kv.Key.Channels[c].Members)).ToList();
        Mask(removedMembers);
        model.Eval();
        model.ZeroGrad();
        var yd = model.Forward(input);
        var probe = Random(new Generator(9), yd.ShapeCopy());
        (yd * probe).Sum().Backward();
        var maskedGrads = model.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter.Grad!.Clone());
        model.LoadStateDict(saved);
        var dense = saved.ToDictionary(kv => kv.Key, kv => kv.Value);

        var result = Shrink.Execute(model, graph, plan);
        Assert.True(model.Parameters().Sum(p => (long)p.Numel) < denseParams);
        model.Eval();
        var ys = model.Forward(input);
        AssertClose(yd, ys, "output");
        using (SharpPrune.Autograd.GradMode.NoGrad())   // inference path: fused conv+BN+ReLU, recycled buffers
            AssertClose(yd, model.Forward(input), "no-grad output");
        (ys * probe).Sum().Backward();

        var removed = result.Removed.ToDictionary(r => (r.Layer, r.Role), r => r.Indices);
        foreach (var (pname, p) in model.NamedParameters())
        {
            string layer = pname[..pname.LastIndexOf('.')];
            (ChannelRole? rows, ChannelRole? cols) = model.GetSubmodule(layer) switch
            {
                Conv2d c when c.Groups > 1 => (ChannelRole.Depthwise, (ChannelRole?)null),
                Conv2d => (ChannelRole.ConvOut, ChannelRole.ConvIn),
                Linear => (ChannelRole.LinearOut, ChannelRole.LinearIn),
                _ => (ChannelRole.BatchNorm, null),
            };
            var d = dense[pname];
            int[] Keep(ChannelRole? role, int n) => role is ChannelRole r && removed.TryGetValue((layer, r), out var rm)
                ? Enumerable.Range(0, n).Except(rm).ToArray() : Enumerable.Range(0, n).ToArray();
            var keepRows = Keep(rows, d.Size(0));
            var keepCols = d.Dim > 1 ? Keep(cols, d.Size(1)) : null;
            var expectW = Gather(d, keepRows, keepCols);
            Assert.Equal(expectW.Shape, p.Shape);
            Assert.True(expectW.Data.SequenceEqual(p.Data), $"{pname}: surviving weights not copied exactly");
            AssertClose(Gather(maskedGrads[pname], keepRows, keepCols), p.Grad!, $"gradient of {pname}");
        }
        return result;
    }

    /// <summary>The masked model: the removed channels' filters, biases and BatchNorm γ/β set to zero.</summary>
    private static void Mask(IEnumerable<ChannelMember> members)
    {
        foreach (var m in members.Where(m => m.IsProducer || m.Role == ChannelRole.BatchNorm))
            foreach (var t in new[] { m.Module["weight"], m.Module["bias"] }.OfType<Tensor>())
            {
                int per = t.Numel / t.Size(0);
                t.Data.Slice(m.Index * per, per).Clear();
            }
    }

    private static Tensor Gather(Tensor t, int[] rows, int[]? cols)
    {
        if (t.Dim == 1) return Tensor.FromArray(rows.Select(i => t.Data[i]).ToArray(), rows.Length);
        var x = t.IndexSelect(0, rows);
        return cols is null ? x : x.IndexSelect(1, cols);
    }

    internal static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.ToArray(); var a = actual.ToArray();
        double scale = Math.Max(1e-3, e.Max(v => Math.Abs((double)v)));
        for (int i = 0; i < e.Length; i++)
            if (!(Math.Abs(e[i] - a[i]) <= 1e-5 * scale))
                Assert.Fail($"{what}[{i}]: expected {e[i]}, got {a[i]} (scale {scale})");
    }

    internal static Tensor Random(Generator g, params int[] shape) => Init.Uniform_(Tensor.Empty(shape), -1f, 1f, g);

    /// <summary>Non-trivial BatchNorm state, so a channel whose β or running mean is left behind would show.</summary>
    internal static void RandomizeBatchNorm(Module model, Generator g)
    {
        foreach (var bn in model.Modules().OfType<BatchNormBase>())
        {
            Init.Uniform_(bn.Weight!, 0.5f, 1.5f, g); Init.Uniform_(bn.Bias!, -0.5f, 0.5f, g);
            Init.Uniform_(bn.RunningMean!, -0.2f, 0.2f, g); Init.Uniform_(bn.RunningVar!, 0.5f, 2f, g);
        }
    }
}

/// <summary>A user's own model: a residual add with a BN'd branch, a depthwise conv, a channel concat, a flatten into a linear.</summary>
internal sealed class UserNet : Module
{
    public UserNet()
    {
        var g = new Generator(21);
        RegisterModule("stem", new Conv2d(3, 8, 3, padding: 1, generator: g));
        RegisterModule("stem_bn", new BatchNorm2d(8));
        RegisterModule("branch", new Conv2d(8, 8, 3, padding: 1, bias: false, generator: g));
        RegisterModule("branch_bn", new BatchNorm2d(8));
        RegisterModule("dw", new Conv2d(8, 8, 3, padding: 1, groups: 8, generator: g));
        RegisterModule("side", new Conv2d(8, 6, 1, generator: g));
        RegisterModule("pool", new MaxPool2d(2));
        RegisterModule("head", new Linear(14 * 4 * 4, 12, generator: g));
        RegisterModule("out", new Linear(12, 5, generator: g));
    }

    protected override Tensor ForwardCore(Tensor x)
    {
        var h = GetSubmodule("stem_bn").Forward(GetSubmodule("stem").Forward(x)).Relu();
        var r = GetSubmodule("branch_bn").Forward(GetSubmodule("branch").Forward(h));
        h = (h + r).Relu();                                  // residual: stem and branch outputs coupled
        var d = GetSubmodule("dw").Forward(h);               // depthwise: coupled with its input
        var s = GetSubmodule("side").Forward(h).Relu();
        var c = Tensor.Concat(new[] { d, s }, 1);            // 14 channels
        var f = GetSubmodule("pool").Forward(c).Flatten(1);  // channel k -> features k·16 … k·16+15
        return GetSubmodule("out").Forward(GetSubmodule("head").Forward(f).Relu());
    }
}
