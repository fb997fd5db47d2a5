using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

/// <summary>The engine's contract: accumulation, detaching, no-grad scopes, errors, shared inputs.</summary>
public class AutogradTests
{
    private static Tensor Leaf(params float[] v) => new Tensor(v, v.Length).RequiresGrad_();

    [Fact]
    public void GradientsAccumulateAcrossBackwardCalls()
    {
        var x = Leaf(1, -2, 3);
        (x * x).Sum().Backward();
        Assert.Equal(new float[] { 2, -4, 6 }, x.Grad!.ToArray());
        var first = x.Grad;
        (x * 3f).Sum().Backward();
        Assert.Equal(new float[] { 5, -1, 9 }, x.Grad!.ToArray());
        Assert.Same(first, x.Grad); // accumulated in place, like PyTorch's .grad
    }

    [Fact]
    public void LinearAndConvWeightGradientsAccumulateIntoAnExistingGrad()
    {
        // From the second backward on, Linear/Conv2d add straight into weight.Grad (no temporary).
        var g = new Generator(2);
        var conv = new Conv2d(3, 8, 3, padding: 1, generator: g);
        var lin = new Linear(8 * 8 * 8, 5, generator: g);
        var x = Tensor.Randn(g, 2, 3, 8, 8);
        Tensor Loss() => lin.Forward(conv.Forward(x).Relu().Flatten(1)).Sum();
        Loss().Backward();
        var once = new[] { conv.Weight.Grad!.ToArray(), lin.Weight.Grad!.ToArray(), conv.Bias!.Grad!.ToArray() };
        var firstGrad = lin.Weight.Grad;
        Loss().Backward();
        Assert.Same(firstGrad, lin.Weight.Grad);
        var twice = new[] { conv.Weight.Grad!.ToArray(), lin.Weight.Grad!.ToArray(), conv.Bias!.Grad!.ToArray() };
        for (int t = 0; t < 3; t++)
            for (int i = 0; i < once[t].Length; i++)
                Assert.Equal(2 * once[t][i], twice[t][i], 2e-5f * Math.Max(1f, Math.Abs(once[t][i])));
    }

    [Fact]
    public void ZeroGradClearsAccumulatedGradients()
    {
        var lin = new Linear(3, 2, generator: new Generator(1));
        lin.Forward(Tensor.Ones(4, 3)).Sum().Backward();
        Assert.NotEqual(0, lin.Weight.Grad!.CountNonZero());
        lin.ZeroGrad();
        Assert.Equal(0, lin.Weight.Grad!.CountNonZero());
        Assert.Equal(0, lin.Bias!.Grad!.CountNonZero());
    }

    [Fact]
    public void SharedInputUsedTwiceSumsBothPaths()
    {
        var x = Leaf(0.5f, -1.5f);
        (x * x + x).Sum().Backward(); // d/dx (x² + x) = 2x + 1
        Assert.Equal(new float[] { 2, -2 }, x.Grad!.ToArray());

        var y = Leaf(0.3f);
        var a = y.Exp();
        (a * a + a).Sum().Backward(); // diamond: d/dy (e^{2y} + e^y)
        double expected = 2 * Math.Exp(0.6) + Math.Exp(0.3);
        Assert.Equal(expected, y.Grad!.Item(), 5);
    }

    [Fact]
    public void DetachSharesStorageButCutsTheGraph()
    {
        var x = Leaf(1, 2, 3);
        var d = x.Detach();
        Assert.False(d.RequiresGrad);
        Assert.True(d.IsLeaf);
        Assert.True(d.SharesStorageWith(x));
        (d * x).Sum().Backward(); // only the non-detached path contributes
        Assert.Equal(new float[] { 1, 2, 3 }, x.Grad!.ToArray());
        d.Data[0] = 10;
        Assert.Equal(10, x.Data[0]);
    }

    [Fact]
    public void NoGradScopeRecordsNothingAndNests()
    {
        var x = Leaf(1, 2);
        Assert.True(GradMode.IsEnabled);
        using (GradMode.NoGrad())
        {
            var y = x * 2f;
            Assert.False(y.RequiresGrad);
            Assert.Null(y.GradFnName);
            using (GradMode.NoGrad()) Assert.False(GradMode.IsEnabled);
            Assert.False(GradMode.IsEnabled); // still off after the inner scope closes
        }
        Assert.True(GradMode.IsEnabled);
        var z = x * 2f;
        Assert.True(z.RequiresGrad);
        Assert.Equal("MulBackward", z.GradFnName);
    }

    [Fact]
    public void NonScalarBackwardNeedsAGradient()
    {
        var x = Leaf(1, 2, 3);
        var y = x * 2f;
        var ex = Assert.Throws<InvalidOperationException>(() => y.Backward());
        Assert.Contains("scalar", ex.Message);
        Assert.Contains("(3,)", ex.Message);

        var bad = Assert.Throws<ArgumentException>(() => y.Backward(Tensor.Ones(2)));
        Assert.Contains("(2,)", bad.Message);
        Assert.Contains("(3,)", bad.Message);

        y.Backward(new Tensor(new float[] { 1, 0, -1 }, 3));
        Assert.Equal(new float[] { 2, 0, -2 }, x.Grad!.ToArray());
    }

    [Fact]
    public void BackwardWithoutGradRequirementThrows()
    {
        var t = Tensor.Ones(2).Sum();
        var ex = Assert.Throws<InvalidOperationException>(() => t.Backward());
        Assert.Contains("does not require grad", ex.Message);
    }

    [Fact]
    public void NonLeafCannotDropRequiresGradAndKeepsNoGrad()
    {
        var x = Leaf(1, 2);
        var y = x * x;
        Assert.False(y.IsLeaf);
        Assert.Throws<InvalidOperationException>(() => y.RequiresGrad = false);
        y.Sum().Backward();
        Assert.Null(y.Grad); // like PyTorch: .grad is kept for leaves only
    }

    [Fact]
    public void LeafGradientDoesNotAliasTheUpstreamGradient()
    {
        var x = Leaf(1, 2);
        var y = x.AddScalar(1); // backward passes the incoming gradient through unchanged
        var g = new Tensor(new float[] { 3, 4 }, 2);
        y.Backward(g);
        g.Data[0] = 100;
        Assert.Equal(new float[] { 3, 4 }, x.Grad!.ToArray());

        var v = Leaf(1, 2, 3, 4);
        v.View(2, 2).Sum().Backward();
        Assert.False(v.Grad!.SharesStorageWith(v));
    }

    [Fact]
    public void IntegerSelectionsRouteGradientsToTheChosenElements()
    {
        var x = new Tensor(new float[] { 3, 1, 2, 0, 5, 4 }, 2, 3).RequiresGrad_();
        var m = x.Max(1);
        Assert.Equal(new[] { 0, 1 }, m.Indices);
        m.Values.Sum().Backward();
        Assert.Equal(new float[] { 1, 0, 0, 0, 1, 0 }, x.Grad!.ToArray());
    }
}
