using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Core;

/// <summary>
/// Under no-grad, containers hand consumed intermediate activations back to the storage pool. It must never be
/// observable: same outputs, and anything that could still hold a tensor (hooks, unknown modules, views) stops it.
/// </summary>
public class RecycleTests
{
    private static Sequential Net(Generator g) => new(
        new Linear(64, 128, generator: g), new ReLU(), new Linear(128, 128, generator: g), new ReLU(inplace: true),
        new Linear(128, 64, generator: g));

    private static Tensor Input() => Tensor.Randn(new Generator(2), 64, 64);

    [Fact]
    public void IntermediatesAreRecycledUnderNoGradWithoutChangingResults()
    {
        var net = Net(new Generator(1));
        var expected = net.Forward(Input()).ToArray(); // recording: nothing recycled
        using var _ = GradMode.NoGrad();
        var seen = new List<Tensor>();
        var first = net[0];
        using var spy = first.RegisterForwardHook(new OutputSpy(seen)); // retains-nothing hooks keep recycling on
        var y = net.Forward(Input());
        Assert.Equal(expected, y.ToArray());
        // Linear 0's output (128×64 floats) went back to the pool: touching it now fails instead of reading reused memory.
        Assert.Single(seen);
        Assert.ThrowsAny<ArgumentException>(() => seen[0].ToArray());
        Assert.Equal(expected, net.Forward(Input()).ToArray()); // and the next pass reuses it correctly
    }

    [Fact]
    public void ALambdaHookMayKeepATensorSoNothingAroundItIsRecycled()
    {
        var net = Net(new Generator(1));
        Tensor? kept = null;
        net[0].RegisterForwardHook((_, _, output) => { kept ??= output; return null; });
        using var _ = GradMode.NoGrad();
        net.Forward(Input());
        var snapshot = kept!.ToArray();
        for (int i = 0; i < 3; i++) net.Forward(Tensor.Randn(new Generator((ulong)(9 + i)), 64, 64)); // would reuse its buffer
        Assert.Equal(snapshot, kept.ToArray());
    }

    /// <summary>A user module that remembers its input: the default MayRetainTensors = true protects it.</summary>
    private sealed class Remember : Module
    {
        public Tensor? Last;
        protected override Tensor ForwardCore(Tensor input) { Last = input; return input.Relu(); }
    }

    [Fact]
    public void UnknownModulesAreAssumedToKeepTensors()
    {
        var g = new Generator(1);
        var remember = new Remember();
        var net = new Sequential(new Linear(64, 32, generator: g), remember, new Linear(32, 8, generator: g));
        using var _ = GradMode.NoGrad();
        net.Forward(Input());
        var snapshot = remember.Last!.ToArray();
        net.Forward(Tensor.Randn(new Generator(5), 64, 64));
        net.Forward(Input());
        Assert.Equal(snapshot, remember.Last!.ToArray());
    }

    [Fact]
    public void TheCallersInputIsNeverRecycledEvenWhenPassedThrough()
    {
        var g = new Generator(1);
        var net = new Sequential(new SharpPrune.NN.Identity(), new Dropout(0.5f), new Linear(64, 8, generator: g));
        net.Eval(); // eval Dropout returns its input too
        var x = Tensor.Empty(64, 64);
        Tensor.Randn(new Generator(2), 64, 64).Data.CopyTo(x.Data); // a pool-born, recyclable input
        var before = x.ToArray();
        using var _ = GradMode.NoGrad();
        net.Forward(x);
        Assert.Equal(before, x.ToArray());

        // A ResNet block whose shortcut was replaced by an Identity must not recycle its own input either.
        var block = new BasicBlock(16, 16, 1, g);
        block.RegisterModule("downsample", new SharpPrune.NN.Identity());
        var xb = Tensor.Empty(2, 16, 8, 8);
        Tensor.Randn(new Generator(3), 2, 16, 8, 8).Data.CopyTo(xb.Data);
        var xbBefore = xb.ToArray();
        block.Eval();
        block.Forward(xb);
        Assert.Equal(xbBefore, xb.ToArray());
    }

    [Fact]
    public void ViewsAndSharedStorageAreNeverRecycled()
    {
        var fresh = Tensor.Empty(64, 128);
        Assert.False(fresh.Recycle()); // never while recording
        using var _ = GradMode.NoGrad();
        var t = Tensor.Empty(64, 128);
        var v = t.View(128, 64);
        Assert.False(t.Recycle());
        Assert.False(v.Recycle());
        Assert.False(Tensor.FromArray(new float[8192], 8192).Recycle()); // the caller's array
        Assert.True(fresh.Recycle());
        Assert.False(fresh.Recycle());
    }

    [Fact]
    public void PrunedModelsStillRecycleAndMatch()
    {
        var net = Net(new Generator(3));
        Prune.L1Unstructured((Linear)net[2], "weight", 0.5);
        Assert.True(net.RetainsNoTensors());
        var expected = net.Forward(Input()).ToArray();
        using var _ = GradMode.NoGrad();
        Assert.Equal(expected, net.Forward(Input()).ToArray());
        Assert.Equal(expected, net.Forward(Input()).ToArray());
    }

    private static Sequential ConvBnRelu(Generator g, int stride)
    {
        var net = new Sequential(new Conv2d(3, 16, 3, stride: stride, padding: 1, generator: g), new BatchNorm2d(16),
            new ReLU(inplace: true), new Conv2d(16, 80, 3, padding: 1, generator: g), new BatchNorm2d(80));
        // Non-trivial running statistics and affine parameters.
        foreach (var (name, t) in net.NamedBuffers().Concat(net.NamedParameters()))
            if (name.Contains("running_var")) t.Data.Fill(0.7f);
            else if (name.Contains("running_mean") || name.EndsWith("1.bias") || name.EndsWith("4.weight")) Tensor.Randn(g, t.Numel).Data.CopyTo(t.Data);
        net.Eval();
        return net;
    }

    [Theory]
    [InlineData(1)] // direct convolution kernel: affine and ReLU in its store (then the 80-channel conv on the im2col-GEMM path, one image per chunk)
    [InlineData(3)] // im2col-GEMM path, both convs (output 11×11): applied per chunk as two images are scattered back
    public void ConvBatchNormReluFusionGivesExactlyTheSeparateOps(int stride)
    {
        var net = ConvBnRelu(new Generator(7), stride);
        var x = Tensor.Randn(new Generator(8), 2, 3, 32, 32);
        SharpPrune.Tests.Kernels.KernelTestUtil.ForEachIsa(isa =>
        {
            // A hook on every module stops every fusion: module by module.
            var hooks = net.Modules().Select(m => m.RegisterForwardHook((_, _, _) => null)).ToList();
            var expected = net.Forward(x).ToArray();
            foreach (var h in hooks) h.Dispose();
            using var _ = GradMode.NoGrad();
            Assert.Equal(expected, net.Forward(x).ToArray());
        });
    }

    [Fact]
    public void AHookOnTheBatchNormSeesItsOwnOutputSoNothingIsFused()
    {
        var net = ConvBnRelu(new Generator(7), 1);
        var seen = new List<float>();
        net[1].RegisterForwardHook(new MinSpy(seen));
        using var _ = GradMode.NoGrad();
        var y = net.Forward(Tensor.Randn(new Generator(8), 2, 3, 32, 32));
        Assert.Single(seen);
        Assert.True(seen[0] < 0, "the hook saw the BatchNorm output before the ReLU");
    }

    [Fact]
    public void APrunedConvStillRunsItsPruningHookWhenFused()
    {
        var net = ConvBnRelu(new Generator(7), 1);
        Prune.L1Unstructured((Conv2d)net[0], "weight", 0.6);
        var x = Tensor.Randn(new Generator(8), 2, 3, 32, 32);
        var expected = net.Forward(x).ToArray();
        ((Conv2d)net[0])["weight_orig"].Data.Fill(0.01f); // the hook must recompute weight from this
        var expectedAfter = net.Forward(x).ToArray();
        Assert.NotEqual(expected, expectedAfter);
        using var _ = GradMode.NoGrad();
        Assert.Equal(expectedAfter, net.Forward(x).ToArray());
    }

    private sealed class MinSpy(List<float> seen) : IForwardHook, IRetainsNoTensors
    {
        public Tensor? Invoke(Module module, Tensor input, Tensor output) { seen.Add(output.ToArray().Min()); return null; }
    }

    [Theory]
    [InlineData("resnet20")]
    [InlineData("preresnet110")]
    [InlineData("vgg11")]
    [InlineData("alexnet")]
    public void ZooInferenceWithRecyclingMatchesRecordedInference(string name)
    {
        var model = ModelZoo.Create(name, 10, new Generator(4));
        model.Eval();
        var x = Tensor.Randn(new Generator(6), 3, 3, 32, 32);
        var expected = model.Forward(x).ToArray();
        using var _ = GradMode.NoGrad();
        for (int i = 0; i < 2; i++) Assert.Equal(expected, model.Forward(x).ToArray());
    }

    /// <summary>
    /// Recycling still happens in the zoo models: the outputs of blocks, pools and linear layers inside their
    /// containers go back to the pool under no-grad (a spy that breaks its promise sees them released). The spies
    /// sit on no Conv2d, BatchNorm2d or ReLU, so the fusion runs as usual.
    /// </summary>
    [Theory]
    [InlineData("lenet5", 3)]
    [InlineData("lenet300", 2)]
    [InlineData("alexnet", 5)]
    [InlineData("vgg11", 6)]
    [InlineData("resnet20", 6)]
    [InlineData("preresnet110", 33)]
    public void ZooModelsRecycleTheirIntermediatesUnderNoGrad(string name, int minReleased)
    {
        var model = ModelZoo.Create(name, 10, new Generator(4));
        model.Eval();
        var seen = new List<Tensor>();
        foreach (var m in model.Modules().OfType<Sequential>())
            for (int i = 0; i + 1 < m.Count; i++)
                if (m[i] is not (Conv2d or BatchNorm2d or ReLU)) m[i].RegisterForwardHook(new OutputSpy(seen));
        var x = Tensor.Randn(new Generator(6), [2, .. ModelZoo.InputShape(name)]);
        using var _ = GradMode.NoGrad();
        model.Forward(x);
        int released = seen.Count(t => !IsReadable(t));
        Assert.True(released >= minReleased, $"{name}: {released} of {seen.Count} spied intermediates released, expected >= {minReleased}");
    }

    private static bool IsReadable(Tensor t)
    {
        try { t.ToArray(); return true; }
        catch (ArgumentException) { return false; }
    }

    private sealed class OutputSpy(List<Tensor> seen) : IForwardHook, IRetainsNoTensors
    {
        // Test-only: deliberately breaks its promise to observe that the storage was recycled.
        public Tensor? Invoke(Module module, Tensor input, Tensor output) { seen.Add(output); return null; }
    }
}
