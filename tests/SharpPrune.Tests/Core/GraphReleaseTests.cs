using SharpPrune.NN;
using SharpPrune.Optim;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Core;

/// <summary>
/// After backward, the activations a model's forward saved go back to the storage pool (PyTorch frees saved
/// tensors after backward too). Only what nothing outside the graph can reach is released.
/// </summary>
public class GraphReleaseTests
{
    private static Sequential Net(Generator g) => new(
        new Conv2d(3, 8, 3, padding: 1, generator: g), new BatchNorm2d(8), new ReLU(inplace: true), new MaxPool2d(2),
        new Flatten(), new Linear(8 * 8 * 8, 10, generator: g));

    private static Tensor Input() => Tensor.Randn(new Generator(2), 4, 3, 16, 16);

    /// <summary>Breaks its promise on purpose (test only): keeps the conv output to observe its release.</summary>
    private sealed class Spy(List<Tensor> seen) : IForwardHook, IRetainsNoTensors
    {
        public Tensor? Invoke(Module module, Tensor input, Tensor output) { seen.Add(output); return null; }
    }

    [Fact]
    public void BackwardReleasesInternalActivationsButNotOutputsParametersOrInputs()
    {
        var net = Net(new Generator(1));
        var seen = new List<Tensor>();
        net[0].RegisterForwardHook(new Spy(seen));
        var x = Input();
        var logits = net.Forward(x);
        var loss = F.CrossEntropy(logits, new[] { 1, 2, 3, 4 });
        var convOut = seen[0].ToArray(); // readable until backward
        Assert.NotEmpty(convOut);
        loss.Backward();
        Assert.ThrowsAny<ArgumentException>(() => seen[0].ToArray());          // released to the pool
        Assert.Equal(4 * 10, logits.ToArray().Length);                          // the model's output stays
        Assert.Equal(4 * 3 * 16 * 16, x.ToArray().Length);                      // so does the input
        foreach (var (_, p) in net.NamedParameters()) Assert.NotNull(p.Grad!.ToArray());
        foreach (var (_, b) in net.NamedBuffers()) Assert.NotEmpty(b.ToArray());
    }

    [Fact]
    public void ASecondBackwardThroughAReleasedGraphThrowsUnlessRetained()
    {
        var net = Net(new Generator(1));
        var loss = net.Forward(Input()).Sum();
        loss.Backward();
        var e = Assert.Throws<InvalidOperationException>(() => loss.Backward());
        Assert.Contains("second time", e.Message);
        Assert.Contains("retainGraph", e.Message);

        var net2 = Net(new Generator(1));
        var loss2 = net2.Forward(Input()).Sum();
        loss2.Backward(retainGraph: true);
        var once = net2[0]["weight"].Grad!.ToArray();
        loss2.Backward();
        var twice = net2[0]["weight"].Grad!.ToArray();
        for (int i = 0; i < once.Length; i++) Assert.Equal(2 * once[i], twice[i], 1e-5f * Math.Max(1f, Math.Abs(once[i])));
    }

    [Fact]
    public void APrunedWeightComputedDuringForwardIsKept()
    {
        var net = Net(new Generator(1));
        Prune.L1Unstructured(net[5], "weight", 0.5);
        net.Forward(Input()).Sum().Backward();
        var w = net[5]["weight"];
        var expected = (net[5]["weight_orig"] * net[5]["weight_mask"]).ToArray();
        Assert.Equal(expected, w.ToArray());
    }

    [Fact]
    public void TrainingWithReleaseMatchesTrainingWithout()
    {
        // A lambda hook may keep tensors, so it turns the release off: both runs must end at the same weights.
        float[] Train(bool release)
        {
            var model = ModelZoo.Create("resnet20", 10, new Generator(5));
            if (!release) model.RegisterForwardPreHook((_, _) => null);
            var opt = new SGD(model.Parameters(), lr: 0.05, momentum: 0.9, weightDecay: 5e-4);
            var x = Tensor.Randn(new Generator(6), 4, 3, 32, 32);
            var y = new[] { 0, 3, 5, 9 };
            for (int step = 0; step < 3; step++)
            {
                opt.ZeroGrad();
                F.CrossEntropy(model.Forward(x), y).Backward();
                opt.Step();
            }
            return model.Parameters().SelectMany(p => p.ToArray()).ToArray();
        }
        Assert.Equal(Train(release: false), Train(release: true));
    }
}

/// <summary>
/// Allocation per training step. The storage pool is process-wide, so these run alone (the "Kernels" collection):
/// a test on another thread taking the pooled arrays, or filling the pool to its cap, would make a step allocate.
/// </summary>
[Collection("Kernels")]
public class StepAllocationTests
{
    /// <summary>
    /// Max-pool indices and dropout masks are saved state like the activations: from the second training step on
    /// they come from the pool (a fresh array each was 8 MB per VGG-16 step at batch 64).
    /// </summary>
    [Theory]
    [InlineData("vgg11")]   // five max pools
    [InlineData("alexnet")] // max pools and two dropouts
    public void TrainingStepsReuseTheirMaxPoolIndicesAndDropoutMasks(string name)
    {
        var m = ModelZoo.Create(name, 10, new Generator(60));
        m.Train();
        var x = Tensor.Randn(new Generator(61), 8, 3, 32, 32);
        var targets = new[] { 1, 7, 3, 0, 2, 5, 9, 4 };
        long allocated = 0;
        SharpPrune.Tests.Kernels.KernelTestUtil.WithThreads(1, () =>
        {
            for (int step = 0; step < 3; step++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                F.CrossEntropy(m.Forward(x), targets).Backward();
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
        });
        long firstPoolIndices = 8L * 64 * 16 * 16 * sizeof(int); // the first max pool's output: 512 KB
        Assert.True(allocated < firstPoolIndices / 4, $"a {name} training step allocated {allocated} bytes");
    }
}
