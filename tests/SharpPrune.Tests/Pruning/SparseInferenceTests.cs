using SharpPrune.Autograd;
using SharpPrune.Kernels;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Pruning;

public class SparseInferenceTests
{
    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        float scale = Math.Max(1e-3f, expected.Max(MathF.Abs));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(MathF.Abs(expected[i] - actual[i]) <= 1e-5f * scale + 1e-5f * MathF.Abs(expected[i]),
                $"{what}: [{i}] expected {expected[i]}, got {actual[i]} (scale {scale})");
    }

    public static TheoryData<string> Zoo() => new(ModelZoo.Names);

    /// <summary>
    /// Every zoo model, its layers pruned at 0%, 50%, 90% and 100% in turn (random masks), run masked and then
    /// converted with every eligible layer forced sparse: same outputs at batch 1 (gather path) and 5 (streamed path).
    /// </summary>
    [Theory]
    [MemberData(nameof(Zoo))]
    public void SparseOutputsEqualTheMaskedModel(string name)
    {
        var model = ModelZoo.Create(name, 10, new Generator(3));
        double[] amounts = [0.0, 0.5, 0.9, 1.0];
        int i = 0;
        var g = new Generator(11);
        foreach (var (_, m) in model.NamedModules().Where(m => m.Module is Conv2d or Linear).ToList())
            Prune.RandomUnstructured(m, "weight", amounts[i++ % amounts.Length], g);
        model.Eval();
        var shape = ModelZoo.InputShape(name);
        var x1 = Tensor.Randn(new Generator(5), [1, .. shape]);
        var x5 = Tensor.Randn(new Generator(6), [5, .. shape]);
        float[] ref1, ref5;
        using (GradMode.NoGrad()) { ref1 = model.Forward(x1).ToArray(); ref5 = model.Forward(x5).ToArray(); }

        var choices = SparseInference.ToInference(model, force: true);
        Assert.Contains(choices, c => c.Sparse);
        Assert.DoesNotContain(model.Modules(), m => m is Linear);
        using (GradMode.NoGrad())
        {
            AssertClose(ref1, model.Forward(x1).ToArray(), name + " batch 1");
            AssertClose(ref5, model.Forward(x5).ToArray(), name + " batch 5");
        }
    }

    [Fact]
    public void WeightSharedLayersConvertAndTheCrossoverKeepsDenseLayersDense()
    {
        var model = ModelZoo.Create("lenet300", 10, new Generator(1));
        Prune.L1Unstructured(model.GetSubmodule("fc1"), "weight", 0.92);
        WeightSharing.Apply(model.GetSubmodule("fc1"), "weight", 5);
        WeightSharing.Apply(model.GetSubmodule("fc2"), "weight", 5); // dense: stays a Linear
        model.Eval();
        var x = Tensor.Randn(new Generator(2), 3, 1, 28, 28);
        float[] expected;
        using (GradMode.NoGrad()) expected = model.Forward(x).ToArray();
        var choices = SparseInference.ToInference(model);
        Assert.True(choices.Single(c => c.Path == "fc1").Sparse);
        Assert.False(choices.Single(c => c.Path == "fc2").Sparse);
        Assert.IsType<Linear>(model.GetSubmodule("fc2"));
        Assert.True(model.GetSubmodule("fc2").HasParameter("weight"));
        using (GradMode.NoGrad()) AssertClose(expected, model.Forward(x).ToArray(), "lenet300");
        Assert.Throws<InvalidOperationException>(() => model.Forward(x.Clone().RequiresGrad_()));
    }

    [Fact]
    public void CsrProductsMatchDenseProductsIncludingEmptyRowsAndColumns()
    {
        var g = new Generator(4);
        var a = Tensor.Randn(g, 7, 9);
        var d = a.Data;
        for (int i = 0; i < d.Length; i++) if (i % 3 == 0 || i / 9 == 2) d[i] = 0f; // row 2 empty
        var csr = CsrMatrix.FromDense(d, 7, 9);
        var b = Tensor.Randn(g, 9, 600); // wider than a column tile
        var c = new float[7 * 600];
        SparseKernels.Spmm(csr, b.Data, 600, 600, c, 600);
        AssertClose(F.MatMul(a, b).ToArray(), c, "spmm");
        for (int rows = 1; rows <= 6; rows++)
        {
            var x = Tensor.Randn(g, rows, 9);
            var bias = Tensor.Randn(g, 7);
            var y = new float[rows * 7];
            SparseKernels.LinearForward(csr, x.Data, rows, y, bias.Data);
            AssertClose(F.Linear(x, a, bias).ToArray(), y, $"linear rows={rows}");
        }
    }

    /// <summary>
    /// SparseLinear → ReLU in a Sequential under no-grad runs as one call with the ReLU applied in the store: the
    /// same bits as the two modules one by one (a hook on either turns the fusion off, and runs), at batch 1 and 3,
    /// on every ISA path.
    /// </summary>
    [Fact]
    public void SparseLinearFollowedByReluFusesWithoutChangingTheOutput()
    {
        var g = new Generator(21);
        var w1 = Tensor.Randn(g, 40, 70); var w2 = Tensor.Randn(g, 9, 40);
        foreach (var w in new[] { w1, w2 }) { var d = w.Data; for (int i = 0; i < d.Length; i++) if (i % 7 > 1) d[i] = 0f; }
        var b1 = Tensor.Randn(g, 40); var b2 = Tensor.Randn(g, 9);
        var net = new Sequential(new SparseLinear(w1, b1, alwaysSparse: true), new ReLU(),
            new SparseLinear(w2, b2, alwaysSparse: true), new ReLU(inplace: true));
        foreach (var isa in new[] { CpuIsa.Portable }.Concat(Kernels.KernelTestUtil.VectorIsas()))
            foreach (int batch in new[] { 1, 3 })
            {
                var x = Tensor.Randn(new Generator((ulong)batch), batch, 70);
                Gemm.MaxIsa = isa;
                try
                {
                    using var _ = GradMode.NoGrad();
                    var fused = net.Forward(x).ToArray();
                    int calls = 0;
                    var hooks = new[] { net[1].RegisterForwardHook((_, _, _) => { calls++; return null; }),
                                        net[2].RegisterForwardPreHook((_, _) => { calls++; return null; }) };
                    var plain = net.Forward(x).ToArray();
                    foreach (var h in hooks) h.Remove();
                    Assert.Equal(2, calls);
                    Assert.Equal(plain, fused);
                    Assert.Contains(fused, v => v == 0f);
                    // and against the masked dense layers
                    var expected = F.Linear(F.Linear(x, w1, b1).Relu(), w2, b2).Relu();
                    AssertClose(expected.ToArray(), fused, $"{isa} batch {batch}");
                }
                finally { Gemm.MaxIsa = null; }
            }
    }

    /// <summary>
    /// Strided, dilated, padded convolutions on small maps (the window-offset unfolding) and on a larger one (the
    /// generic im2col), at batch 1, a batch that fills several 64-column groups, and one that leaves a partial group.
    /// </summary>
    [Theory]
    [InlineData(6, 5, 3, 2, 1, 2, 7, 7)]     // 3x3 output, dilation 2
    [InlineData(4, 8, 3, 1, 1, 1, 2, 2)]     // 2x2 map, padding only
    [InlineData(3, 4, 5, 1, 2, 1, 12, 12)]   // 144 output positions: one image wider than a column tile
    public void SparseConvolutionsMatchTheMaskedConvolution(int cin, int cout, int k, int stride, int pad, int dil, int h, int w)
    {
        Module Make()
        {
            var conv = new Conv2d(cin, cout, k, stride: stride, padding: pad, dilation: dil, generator: new Generator(7));
            Prune.RandomUnstructured(conv, "weight", 0.6, new Generator(8));
            return new Sequential(new (string, Module)[] { ("conv", conv) }).Eval();
        }
        var masked = Make();
        var sparse = Make();
        SparseInference.ToInference(sparse, force: true);
        Assert.IsType<SparseConv2d>(sparse.GetSubmodule("conv"));
        foreach (int n in new[] { 1, 17, 40 })
        {
            var x = Tensor.Randn(new Generator((ulong)n), n, cin, h, w);
            using (GradMode.NoGrad()) AssertClose(masked.Forward(x).ToArray(), sparse.Forward(x).ToArray(), $"n={n}");
        }
    }

    [Fact]
    public void TheCrossoverWeighsDensityBatchAndTheTransposesOfABatchedLinear()
    {
        // AlexNet's fc2 at 5%: sparse at batch 1 and 128. Its fc3 (4096 -> 10 at 25%): sparse at batch 1 only,
        // since at 128 rows transposing 4106 values per row costs more than the 10k non-zeros save.
        Assert.True(SparseCrossover.LinearPrefersSparse(0.05, 1, 4096, 4096));
        Assert.True(SparseCrossover.LinearPrefersSparse(0.05, 128, 4096, 4096));
        Assert.True(SparseCrossover.LinearPrefersSparse(0.25, 1, 4096, 10));
        Assert.False(SparseCrossover.LinearPrefersSparse(0.25, 128, 4096, 10));
        Assert.Equal((true, true), SparseCrossover.LinearChoices(0.25, 4096, 10));
        Assert.Equal((false, true), SparseCrossover.LinearChoices(0.9, 4096, 4096));
        // A convolution on a 4x4 map at 50%: sparse at batch 1 (16 columns, bound by reading the weights), dense at
        // batch 128 (2048 columns).
        Assert.True(SparseCrossover.ConvPrefersSparse(0.50, 16));
        Assert.False(SparseCrossover.ConvPrefersSparse(0.50, 128 * 16));
    }

    [Fact]
    public void ABatchOneLinearGoesSparseToHalfDensityWhereThePanelKernelRuns()
    {
        // 45% dense at batch 1: the AVX-512 panel kernel beats the dense product (2.3-2.6x at 50% on Zen 5), the CSR
        // kernel of AVX2 and portable CPUs does not (crossover ~0.3-0.4). Batched, the ISA does not matter.
        foreach (var isa in new[] { CpuIsa.Portable, CpuIsa.Avx2, CpuIsa.Avx512 }.Where(i => i <= KernelIsa.Hardware))
        {
            Gemm.MaxIsa = isa;
            try
            {
                Assert.Equal(isa == CpuIsa.Avx512, SparseCrossover.LinearPrefersSparse(0.45, 1, 4096, 4096));
                Assert.False(SparseCrossover.LinearPrefersSparse(0.5, 1, 4096, 4096));
                Assert.False(SparseCrossover.LinearPrefersSparse(0.45, 128, 4096, 4096));
                Assert.True(SparseCrossover.LinearPrefersSparse(0.25, 1, 4096, 4096));
            }
            finally { Gemm.MaxIsa = null; }
        }
    }
}
