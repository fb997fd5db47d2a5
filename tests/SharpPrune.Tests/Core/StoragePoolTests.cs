using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

/// <summary>The engine recycles its own gradient temporaries, and nothing a caller can still see.</summary>
public class StoragePoolTests
{
    private static (Tensor x, Tensor w, Tensor loss) Graph(Tensor x, Tensor w)
    {
        // Pass-through (Add), views (Reshape) and a tensor used twice: the storage-sharing cases.
        var h = F.Linear(x, w);
        var y = (h + h.Relu()).Reshape(-1) * h.Reshape(-1);
        return (x, w, y.Sum());
    }

    [Fact]
    public void RepeatedBackwardGivesIdenticalGradients()
    {
        var g = new Generator(3);
        var x = Tensor.Randn(g, 64, 96).RequiresGrad_();
        var w = Tensor.Randn(g, 80, 96).RequiresGrad_();
        float[]? firstX = null, firstW = null;
        for (int step = 0; step < 4; step++)
        {
            x.Grad = null; w.Grad = null;
            Graph(x, w).loss.Backward();
            firstX ??= x.Grad!.ToArray();
            firstW ??= w.Grad!.ToArray();
            Assert.Equal(firstX, x.Grad!.ToArray());
            Assert.Equal(firstW, w.Grad!.ToArray());
        }
    }

    [Fact]
    public void LeafGradientsAndUserGradientAreNeverRecycled()
    {
        var g = new Generator(4);
        var x = Tensor.Randn(g, 64, 96).RequiresGrad_();
        var w = Tensor.Randn(g, 80, 96).RequiresGrad_();
        var h = F.Linear(x, w);
        var upstream = Tensor.Randn(g, 64, 80);
        var upstreamCopy = upstream.ToArray();
        h.Backward(upstream);
        var gx = x.Grad!.ToArray();
        // Allocate many tensors of the gradients' sizes: a recycled .grad or upstream array would be overwritten.
        for (int i = 0; i < 16; i++) { Tensor.Empty(64, 96).Fill_(7); Tensor.Empty(64, 80).Fill_(7); Tensor.Empty(80, 96).Fill_(7); }
        Assert.Equal(gx, x.Grad!.ToArray());
        Assert.Equal(upstreamCopy, upstream.ToArray());
    }

    [Fact]
    public void BackwardTemporariesAreReused()
    {
        var g = new Generator(5);
        var x = Tensor.Randn(g, 128, 256).RequiresGrad_();
        var w = Tensor.Randn(g, 256, 256).RequiresGrad_();
        Graph(x, w).loss.Backward();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Graph(x, w).loss.Backward();
        long second = GC.GetAllocatedBytesForCurrentThread() - before;
        // Forward outputs (4 × 128 KB and up) are fresh; the backward's ~10 gradient temporaries come from the pool.
        long oneGradient = 128L * 256 * 4;
        Assert.True(second < 9 * oneGradient, $"second step allocated {second} bytes (one gradient is {oneGradient})");
    }
}
