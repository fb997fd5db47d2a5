using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Core;

/// <summary>relu_ / add_ and nn.ReLU(inplace=True): same values and gradients as the out-of-place ops, and
/// PyTorch's version-counter errors when backward would read overwritten values.</summary>
public class InPlaceTests
{
    private static Tensor Leaf(Generator g, params int[] shape) => Tensor.Randn(g, shape).RequiresGrad_();

    [Fact]
    public void ReluAndAddInPlaceGiveTheOutOfPlaceValuesAndGradients()
    {
        var g = new Generator(3);
        var a = Leaf(g, 4, 5); var b = Leaf(g, 4, 5); var w = Leaf(g, 5); var c = Leaf(g, 4, 5);

        Tensor Run(bool inplace)
        {
            var h = a * b;                                      // MulBackward reads a, b: not h
            var r = inplace ? h.Relu_() : h.Relu();
            var s = r * w;                                      // broadcast
            var t = inplace ? s.Add_(c) : s + c;
            return (inplace ? t.Relu_() : t.Relu()) * c;
        }

        var yRef = Run(false);
        yRef.Sum().Backward();
        var refGrads = new[] { a, b, w, c }.Select(t => t.Grad!.ToArray()).ToArray();
        foreach (var t in new[] { a, b, w, c }) t.Grad = null;

        var y = Run(true);
        Assert.Equal(yRef.ToArray(), y.ToArray());
        y.Sum().Backward();
        var grads = new[] { a, b, w, c }.Select(t => t.Grad!.ToArray()).ToArray();
        for (int i = 0; i < grads.Length; i++) Assert.Equal(refGrads[i], grads[i]);
    }

    [Fact]
    public void OverwritingATensorABackwardNeedsThrowsAtBackward()
    {
        var g = new Generator(4);
        var x = Leaf(g, 3, 3); var w = Leaf(g, 3, 3);
        var h = x * 2f;          // h is an input that MulBackward of (h * w) reads
        var y = h * w;
        h.Relu_();
        var e = Assert.Throws<InvalidOperationException>(() => y.Sum().Backward());
        Assert.Contains("modified by an inplace operation", e.Message);
        Assert.Contains("MulBackward", e.Message);

        // Sigmoid's backward reads its output.
        var s = x.Sigmoid();
        var z = s.Relu_();
        e = Assert.Throws<InvalidOperationException>(() => z.Sum().Backward());
        Assert.Contains("SigmoidBackward", e.Message);
    }

    [Fact]
    public void OverwritingAnAddOutputIsFineBecauseItsBackwardReadsNothing()
    {
        var g = new Generator(5);
        var x = Leaf(g, 6); var y = Leaf(g, 6);
        var s = x + y;
        s.Relu_().Sum().Backward();
        Assert.NotNull(x.Grad);
    }

    [Fact]
    public void LeafThatRequiresGradCannotBeOverwritten()
    {
        var x = Leaf(new Generator(6), 4);
        var e = Assert.Throws<InvalidOperationException>(() => x.Relu_());
        Assert.Contains("leaf", e.Message);
        Assert.Throws<InvalidOperationException>(() => x.Add_(Tensor.Ones(4)));
        using (GradMode.NoGrad()) Assert.Same(x, x.Relu_()); // allowed without recording, as in PyTorch
    }

    [Fact]
    public void WithoutRecordingTheTensorItselfIsReturnedAndVersionBumped()
    {
        var x = Tensor.FromArray(new float[] { -1, 2, -3, 4 }, 4);
        int v = x.Version;
        Assert.Same(x, x.Relu_());
        Assert.Equal(new float[] { 0, 2, 0, 4 }, x.ToArray());
        Assert.Same(x, x.Add_(Tensor.FromArray(new float[] { 1 }, 1)));
        Assert.Equal(new float[] { 1, 3, 1, 5 }, x.ToArray());
        Assert.Equal(v + 2, x.Version);
        var e = Assert.Throws<ArgumentException>(() => x.Add_(Tensor.Ones(2, 4)));
        Assert.Contains("(2, 4)", e.Message);
    }

    [Fact]
    public void ReluModuleInplaceOptionAndRepr()
    {
        Assert.Equal("ReLU(inplace=True)", new ReLU(inplace: true).ToString());
        Assert.Equal("ReLU()", new ReLU().ToString());
        var x = Tensor.FromArray(new float[] { -1, 1 }, 2);
        using (GradMode.NoGrad()) Assert.Same(x, new ReLU(inplace: true).Forward(x));
    }

    [Fact]
    public void ZooModelsWithInplaceReluTrainLikeTheirOutOfPlaceSelves()
    {
        // A ResNet step: the in-place zoo model's gradients equal those of the same network evaluated out of
        // place (ReLUs swapped for out-of-place ones through the public module API).
        var a = new ResNet(20, generator: new Generator(7));
        var b = new ResNet(20, generator: new Generator(7));
        foreach (var (name, m) in b.NamedModules().ToList())
            if (m is ReLU && name.Length > 0)
            {
                int dot = name.LastIndexOf('.');
                var parent = dot < 0 ? b : b.GetSubmodule(name[..dot]);
                parent.RegisterModule(name[(dot + 1)..], new ReLU());
            }
        Assert.DoesNotContain("inplace", b.ToString());
        var x = Tensor.Randn(new Generator(8), 2, 3, 32, 32);
        var targets = new[] { 1, 7 };
        F.CrossEntropy(a.Forward(x), targets).Backward();
        F.CrossEntropy(b.Forward(x), targets).Backward();
        var pa = a.NamedParameters().ToList();
        var pb = b.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
        foreach (var (name, p) in pa)
            Assert.Equal(pb[name].Grad!.ToArray(), p.Grad!.ToArray());
    }
}
