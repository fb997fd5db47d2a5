using SharpPrune.Autograd;
using SharpPrune.Kernels;
using SharpPrune.NN;
using SharpPrune.Tests.Kernels;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Core;

/// <summary>
/// relu(batch_norm(x) [+ residual]) as one op (F.BatchNormRelu, and the containers that use it for BN → ReLU pairs
/// and residual tails) must be exactly the ops one by one: outputs, running statistics and every gradient, bit for
/// bit, on every ISA path and thread count.
/// </summary>
[Collection("Kernels")]
public class BatchNormReluFusionTests
{
    private sealed record Run(float[] Y, float[] Gx, float[] Gw, float[] Gb, float[]? Gr, float[] Mean, float[] Var);

    private static Run Compute(int[] shape, bool training, bool residual, bool fused, bool specials)
    {
        int c = shape[1];
        var g = new Generator(40);
        var x = Tensor.Randn(g, shape).RequiresGrad_();
        var w = Tensor.Randn(g, c).RequiresGrad_();
        var b = Tensor.Randn(g, c).RequiresGrad_();
        var r = residual ? Tensor.Randn(g, shape).RequiresGrad_() : null;
        if (specials && r != null)
        {
            // NaN and −0 reach the ReLU through the add: max(NaN, 0) stays NaN, max(−0, 0) is +0 either way.
            using var _ = GradMode.NoGrad();
            r.Data[3] = float.NaN; r.Data[5] = -0f; r.Data[r.Numel - 1] = float.NegativeInfinity;
        }
        var rm = Tensor.Randn(g, c);
        var rv = Tensor.Rand(g, c);
        for (int i = 0; i < c; i++) rv.Data[i] += 0.5f;
        Tensor y;
        if (fused) y = F.BatchNormRelu(x, r, rm, rv, w, b, training, 0.1, 1e-5);
        else
        {
            var o = F.BatchNorm(x, rm, rv, w, b, training, 0.1, 1e-5);
            if (r != null) o = o.Add(r);
            y = o.Relu();
        }
        var gy = Tensor.Randn(new Generator(41), shape);
        y.Backward(gy);
        return new Run(y.ToArray(), x.Grad!.ToArray(), w.Grad!.ToArray(), b.Grad!.ToArray(), r?.Grad?.ToArray(),
            rm.ToArray(), rv.ToArray());
    }

    [Theory]
    [InlineData(true, false, 8, 6, 5, 7)]     // training, BN → ReLU, L = 35: row-order backward, vector tails
    [InlineData(true, true, 8, 6, 5, 7)]      // training, residual tail
    [InlineData(true, true, 4, 3, 24, 25)]    // L = 600: the channel-order backward, blocks of 256 with a tail
    [InlineData(false, true, 4, 3, 24, 25)]   // eval statistics (fine-tuning with frozen BatchNorm)
    [InlineData(true, false, 16, 5, 1, 1)]    // L = 1 (BatchNorm on 1×1 maps)
    public void FusedOpGivesExactlyTheSeparateOps(bool training, bool residual, int n, int c, int h, int w)
    {
        int[] shape = { n, c, h, w };
        KernelTestUtil.ForEveryIsaAndThreadCount((_, _) =>
        {
            var expected = Compute(shape, training, residual, fused: false, specials: false);
            var actual = Compute(shape, training, residual, fused: true, specials: false);
            Assert.Equal(expected, actual, RunComparer.Instance);
        });
    }

    [Fact]
    public void NanAndNegativeZeroThroughTheResidualMatchTheSeparateOps()
    {
        int[] shape = { 4, 3, 6, 6 };
        KernelTestUtil.ForEveryIsaAndThreadCount((_, _) =>
        {
            var expected = Compute(shape, training: true, residual: true, fused: false, specials: true);
            var actual = Compute(shape, training: true, residual: true, fused: true, specials: true);
            Assert.True(float.IsNaN(actual.Y[3]));
            Assert.Equal(expected, actual, RunComparer.Instance);
        });
    }

    [Fact]
    public void AResidualOfAnotherShapeIsRefused()
    {
        var x = Tensor.Randn(new Generator(1), 2, 3, 4, 4);
        var e = Assert.Throws<ArgumentException>(() => F.BatchNormRelu(x, Tensor.Zeros(2, 3, 4, 5), null, null, training: true));
        Assert.Contains("(2, 3, 4, 5)", e.Message);
    }

    /// <summary>
    /// A ResNet training step through the fused BN → ReLU pairs and residual tails equals the same step with every
    /// module hooked (a hook stops each fusion): loss, every gradient, running statistics and batch counters.
    /// </summary>
    [Fact]
    public void ResNetTrainingStepEqualsTheUnfusedStep()
    {
        foreach (var isa in new[] { CpuIsa.Avx2, KernelIsa.Hardware }.Distinct().Where(i => i <= KernelIsa.Hardware))
        {
            Gemm.MaxIsa = isa;
            try
            {
                var plain = TrainStep(hooked: false, out var fusedOps);
                var hooked = TrainStep(hooked: true, out var separateOps);
                Assert.True(fusedOps > 0, "the step ran no fused op: the test would compare a model with itself");
                Assert.Equal(0, separateOps);
                Assert.Equal(hooked.Count, plain.Count);
                foreach (var (name, values) in hooked) Assert.True(values.SequenceEqual(plain[name]), $"{name} differs ({isa})");
            }
            finally { Gemm.MaxIsa = null; }
        }
    }

    /// <summary>The fused backward's masked gradient is its own temporary: it must go back to the pool, not to the GC.</summary>
    [Fact]
    public void FusedTrainingStepsReuseTheirBuffers()
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(52));
        m.Train();
        var x = Tensor.Randn(new Generator(53), 4, 3, 32, 32);
        var targets = new[] { 1, 7, 3, 0 };
        long allocated = 0;
        KernelTestUtil.WithThreads(1, () =>
        {
            for (int step = 0; step < 3; step++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                F.CrossEntropy(m.Forward(x), targets).Backward();
                allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            }
        });
        long activation = 4L * 16 * 32 * 32 * sizeof(float); // one first-stage activation: 256 KB
        Assert.True(allocated < activation, $"a training step allocated {allocated} bytes; one activation is {activation}");
    }

    private static Dictionary<string, float[]> TrainStep(bool hooked, out int fusedOps)
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(50));
        m.Train();
        var handles = new List<HookHandle>();
        if (hooked)
            foreach (var (_, mod) in m.NamedModules()) handles.Add(mod.RegisterForwardHook((_, _, _) => null));
        var x = Tensor.Randn(new Generator(51), 2, 3, 32, 32);
        var targets = new[] { 1, 7 };
        var loss = F.CrossEntropy(m.Forward(x), targets);
        fusedOps = CountOps(loss, "BatchNormReluBackward");
        loss.Backward();
        var result = new Dictionary<string, float[]> { ["loss"] = loss.ToArray() };
        foreach (var (name, p) in m.NamedParameters()) result["grad." + name] = p.Grad!.ToArray();
        foreach (var (name, b) in m.NamedBuffers()) result["buffer." + name] = b.ToArray();
        foreach (var h in handles) h.Dispose();
        return result;
    }

    private static int CountOps(Tensor root, string name)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<Tensor>([root]);
        int count = 0;
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            if (!seen.Add(t)) continue;
            if (t.GradFnName == name) count++;
            foreach (var i in t.GradFnInputs) stack.Push(i);
        }
        return count;
    }

    private sealed class RunComparer : IEqualityComparer<Run>
    {
        public static readonly RunComparer Instance = new();
        private static bool Same(float[]? a, float[]? b) =>
            a == null ? b == null : b != null && a.Length == b.Length && a.Zip(b).All(p => BitConverter.SingleToInt32Bits(p.First) == BitConverter.SingleToInt32Bits(p.Second) || (float.IsNaN(p.First) && float.IsNaN(p.Second)));
        public bool Equals(Run? a, Run? b) => a != null && b != null && Same(a.Y, b.Y) && Same(a.Gx, b.Gx) && Same(a.Gw, b.Gw)
            && Same(a.Gb, b.Gb) && Same(a.Gr, b.Gr) && Same(a.Mean, b.Mean) && Same(a.Var, b.Var);
        public int GetHashCode(Run r) => 0;
    }
}
