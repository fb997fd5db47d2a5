using SharpPrune.NN;
using Xunit.Sdk;
using static SharpPrune.Tests.Core.GradCheck;

namespace SharpPrune.Tests.Core;

/// <summary>Analytic gradients against central differences (see <see cref="GradCheck"/> for the tolerance).</summary>
public class GradCheckTests
{
    /// <summary>Values spaced 0.1 apart in random order: max/sort pick the same element after a ±h nudge.</summary>
    private static Tensor Distinct(ulong seed, params int[] shape)
    {
        int n = (int)Shapes.Numel(shape);
        var p = new Generator(seed).Permutation(n);
        return new Tensor(p.Select(v => (v - n / 2f) * 0.1f).ToArray(), shape);
    }

    /// <summary>|v| in [1, 2] with random sign: safe divisors.</summary>
    private static Tensor AwayFromZero(ulong seed, params int[] shape)
    {
        var t = Rand(seed, 1, 2, shape);
        var g = new Generator(seed + 1);
        var d = t.Data;
        for (int i = 0; i < d.Length; i++) if (g.NextDouble() < 0.5) d[i] = -d[i];
        return t;
    }

    [Fact]
    public void Conv2dGroupsStrideDilationPadding() =>
        Check("conv2d g2 s2 d2 p1", x => F.Conv2d(x[0], x[1], x[2], stride: (2, 2), padding: (1, 1), dilation: (2, 2), groups: 2),
            Rand(1, -1, 1, 2, 4, 7, 7), Rand(2, -1, 1, 6, 2, 3, 3), Rand(3, -1, 1, 6));

    [Fact]
    public void Conv2dDepthwiseAsymmetric() =>
        Check("conv2d depthwise k3x2 s1x2 p1x0", x => F.Conv2d(x[0], x[1], null, stride: (1, 2), padding: (1, 0), groups: 3),
            Rand(4, -1, 1, 2, 3, 5, 6), Rand(5, -1, 1, 3, 1, 3, 2));

    [Fact]
    public void Conv2dPlain() =>
        Check("conv2d", x => F.Conv2d(x[0], x[1], x[2]), Rand(6, -1, 1, 1, 3, 5, 5), Rand(7, -1, 1, 4, 3, 3, 3), Rand(8, -1, 1, 4));

    [Fact]
    public void Linear3dInput() =>
        Check("linear", x => F.Linear(x[0], x[1], x[2]), Rand(10, -1, 1, 2, 3, 5), Rand(11, -1, 1, 4, 5), Rand(12, -1, 1, 4));

    [Fact]
    public void MatMul() => Check("matmul", x => F.MatMul(x[0], x[1]), Rand(13, -1, 1, 3, 4), Rand(14, -1, 1, 4, 5));

    [Fact]
    public void LogSoftmax() => Check("log_softmax", x => F.LogSoftmax(x[0]), Rand(20, -2, 2, 4, 6));

    [Fact]
    public void CrossEntropyWithAndWithoutSmoothing()
    {
        var logits = Rand(21, -2, 2, 5, 4);
        int[] y = { 3, 0, 1, 3, 2 };
        Check("cross_entropy", x => F.CrossEntropy(x[0], y), logits);
        Check("cross_entropy ls=0.2", x => F.CrossEntropy(x[0], y, 0.2f), logits);
    }

    [Fact]
    public void NllAndMse()
    {
        Check("nll_loss", x => F.NllLoss(x[0], new[] { 1, 0, 2 }), Rand(22, -3, 0, 3, 3));
        Check("mse", x => F.MseLoss(x[0], x[1]), Rand(23, -1, 1, 3, 4), Rand(24, -1, 1, 3, 4));
    }

    [Fact]
    public void BroadcastingMulDivAddSub()
    {
        Check("mul (2,1,3)*(1,4,1)", x => x[0] * x[1], Rand(30, -1, 1, 2, 1, 3), Rand(31, -1, 1, 1, 4, 1));
        Check("div (2,3,4)/(3,1)", x => x[0] / x[1], Rand(32, -1, 1, 2, 3, 4), AwayFromZero(33, 3, 1));
        Check("div (1,)/(2,3)", x => x[0] / x[1], Rand(34, -1, 1, 1), AwayFromZero(35, 2, 3));
        Check("add-sub (3,4),(4,)", x => (x[0] + x[1]) - x[1] * x[0], Rand(36, -1, 1, 3, 4), Rand(37, -1, 1, 4));
    }

    [Fact]
    public void SmoothUnaryChain() =>
        Check("exp/sigmoid/tanh/sqrt/log/pow", x => x[0].Sigmoid() * x[0].Tanh() + x[0].Exp().AddScalar(1).Log().Sqrt() - x[0].Pow(3),
            Rand(40, -1.5f, 1.5f, 3, 4));

    [Fact]
    public void ShapeOps()
    {
        Check("permute", x => x[0].Permute(2, 0, 1) * x[1], Rand(50, -1, 1, 2, 3, 4), Rand(51, -1, 1, 4, 2, 3));
        Check("slice dim 1", x => x[0].Slice(1, 1, 3), Rand(52, -1, 1, 2, 4, 3));
        Check("slice negative", x => x[0].Slice(-1, -3, -1), Rand(53, -1, 1, 2, 4, 5));
        Check("concat dim 1", x => Tensor.Concat(new[] { x[0], x[1], x[2] }, 1),
            Rand(54, -1, 1, 2, 1, 3), Rand(55, -1, 1, 2, 2, 3), Rand(56, -1, 1, 2, 3, 3));
        Check("concat same tensor twice", x => Tensor.Concat(new[] { x[0], x[0] }, 0) * Tensor.Concat(new[] { x[0], x[0] }, 0),
            Rand(57, -1, 1, 2, 3));
        Check("stack dim -1", x => Tensor.Stack(new[] { x[0], x[1] }, -1), Rand(58, -1, 1, 2, 3), Rand(59, -1, 1, 2, 3));
        Check("index_select repeated", x => x[0].IndexSelect(1, new[] { 2, 0, 2, 2 }), Rand(60, -1, 1, 2, 3, 2));
        Check("view/transpose/select", x => x[0].View(3, 4).Transpose(0, 1).Select(1, 2), Rand(61, -1, 1, 2, 6));
    }

    [Fact]
    public void Reductions()
    {
        Check("sum dims (0,2)", x => x[0].Sum(new[] { 0, 2 }), Rand(70, -1, 1, 2, 3, 4));
        Check("mean dim 1 keepdim", x => x[0].Mean(1, keepDim: true) * x[0], Rand(71, -1, 1, 2, 3, 4));
        Check("sum all of square", x => (x[0] * x[0]).Sum(), Rand(72, -1, 1, 3, 4));
        Check("max dim 1", x => x[0].Max(1).Values, Distinct(73, 3, 5, 2));
        Check("min dim 0 keepdim", x => x[0].Min(0, keepDim: true).Values, Distinct(74, 4, 3));
        Check("topk", x => x[0].TopK(2, 1).Values, Distinct(75, 3, 5));
        Check("sort", x => x[0].Sort(0, descending: true).Values, Distinct(76, 4, 3));
    }

    [Fact]
    public void WhereGradientsGoToTheChosenSide()
    {
        var c = new Tensor(new float[] { 1, 0, 0, 1 }, 4);
        Check("where", x => Tensor.Where(x[0], x[1], x[2]) * x[1], new[] { c, Rand(80, -1, 1, 3, 4), Rand(81, -1, 1, 4) }, new[] { false, true, true });
    }

    /// <summary>The checker itself must reject a wrong gradient (x.Detach()·x has derivative 2x, autograd sees x).</summary>
    [Fact]
    public void CheckerRejectsAWrongGradient()
    {
        var ex = Assert.Throws<XunitException>(() => Check("wrong", x => x[0].Detach() * x[0], Rand(90, 0.5f, 1, 3)));
        Assert.Contains("analytic", ex.Message);
    }
}
