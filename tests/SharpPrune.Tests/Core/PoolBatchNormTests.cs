using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

/// <summary>
/// Pooling and batch norm: hand-computed cases, and gradients checked against central differences of an
/// independent double-precision reference (h = 1e-6, so the numeric side is exact to ~1e-9 and the
/// tolerance only has to absorb the float32 rounding of our kernels).
/// </summary>
public class PoolBatchNormTests
{
    // ------------------------------------------------------------------ hand-computed cases

    [Fact]
    public void MaxPoolPicksWindowMaximaAndRoutesGradient()
    {
        var x = new Tensor(new float[]
        {
            1, 2, 5, 0,
            3, 4, 1, 7,
            0, 9, 2, 2,
            8, 1, 3, 6,
        }, 1, 1, 4, 4).RequiresGrad_();
        var y = F.MaxPool2d(x, 2);
        Assert.Equal(new float[] { 4, 7, 9, 6 }, y.ToArray());
        Assert.Equal("MaxPool2DWithIndicesBackward", y.GradFnName);
        y.Backward(new Tensor(new float[] { 10, 20, 30, 40 }, 1, 1, 2, 2));
        Assert.Equal(new float[]
        {
            0, 0, 0, 0,
            0, 10, 0, 20,
            0, 30, 0, 0,
            0, 0, 0, 40,
        }, x.Grad!.ToArray());
    }

    [Fact]
    public void MaxPoolWithPaddingIgnoresThePadAndOverlappingWindowsAccumulate()
    {
        // 3×3 input, kernel 3, stride 1, pad 1 → 3×3; the centre (9) is the max of every window.
        var x = new Tensor(new float[] { 1, 2, 3, 4, 9, 6, 7, 8, 5 }, 1, 1, 3, 3).RequiresGrad_();
        var y = F.MaxPool2d(x, 3, stride: 1, padding: 1);
        Assert.Equal(Enumerable.Repeat(9f, 9), y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new float[] { 0, 0, 0, 0, 9, 0, 0, 0, 0 }, x.Grad!.ToArray());
        // All-negative input: padding must not win with 0 (PyTorch pads with -inf).
        var neg = F.MaxPool2d(Tensor.Full(new[] { 1, 1, 2, 2 }, -3f), 2, stride: 1, padding: 1);
        Assert.All(neg.ToArray(), v => Assert.Equal(-3f, v));
    }

    [Fact]
    public void AvgPoolCountsPaddingInTheDivisor()
    {
        var x = new Tensor(new float[] { 1, 2, 3, 4 }, 1, 1, 2, 2).RequiresGrad_();
        // kernel 2, stride 1, pad 1 → 3×3 windows of 4 cells, zeros included: corner = x/4.
        var y = F.AvgPool2d(x, 2, stride: 1, padding: 1);
        Assert.Equal(new float[] { 0.25f, 0.75f, 0.5f, 1f, 2.5f, 1.5f, 0.75f, 1.75f, 1f }, y.ToArray());
        y.Sum().Backward();
        // Each input cell sits in 4 windows, each contributing 1/4.
        Assert.All(x.Grad!.ToArray(), v => Assert.Equal(1f, v));
        Assert.Equal(new[] { 1, 1, 3, 3 }, y.ShapeCopy());
        Assert.Equal("AvgPool2DBackward", y.GradFnName);
    }

    [Fact]
    public void AdaptiveAvgPoolUsesPyTorchBins()
    {
        // Size 5 → 3 bins: [0,2), [1,4), [3,5).
        var x = new Tensor(new float[] { 1, 2, 3, 4, 5 }, 1, 1, 1, 5).RequiresGrad_();
        var y = F.AdaptiveAvgPool2d(x, (1, 3));
        Assert.Equal(new float[] { 1.5f, 3f, 4.5f }, y.ToArray());
        y.Sum().Backward();
        Assert.Equal(new float[] { 0.5f, 0.5f + 1f / 3, 1f / 3, 1f / 3 + 0.5f, 0.5f }, x.Grad!.ToArray());
        var g = F.AdaptiveAvgPool2d(Tensor.Arange(0, 32).View(2, 1, 4, 4), 1);
        Assert.Equal(new float[] { 7.5f, 23.5f }, g.ToArray());
    }

    [Fact]
    public void ThreeDimensionalInputIsOneSample()
    {
        var x = Tensor.Arange(0, 16).View(1, 4, 4);
        Assert.Equal(new[] { 1, 2, 2 }, F.MaxPool2d(x, 2).ShapeCopy());
        Assert.Equal(F.AvgPool2d(x.View(1, 1, 4, 4), 2).ToArray(), F.AvgPool2d(x, 2).ToArray());
    }

    [Fact]
    public void PoolingErrorsNameTheProblem()
    {
        var e1 = Assert.Throws<ArgumentException>(() => F.MaxPool2d(Tensor.Zeros(4, 4), 2));
        Assert.Contains("(4, 4)", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => F.AvgPool2d(Tensor.Zeros(1, 1, 4, 4), 2, padding: 2));
        Assert.Contains("half of kernel size", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => F.MaxPool2d(Tensor.Zeros(1, 1, 3, 3), 5));
        Assert.Contains("too small", e3.Message);
        Assert.Throws<ArgumentException>(() => F.AdaptiveAvgPool2d(Tensor.Zeros(1, 1, 3, 3), (0, 1)));
        Assert.Throws<ArgumentException>(() => new MaxPool2d(2, stride: 0));
    }

    [Fact]
    public void BatchNormTrainingNormalisesAndUpdatesRunningStatsLikePyTorch()
    {
        // One channel, values 1, 2, 3, 6: mean 3, biased var 3.5, unbiased var 14/3.
        var x = new Tensor(new float[] { 1, 2, 3, 6 }, 4, 1);
        var rm = Tensor.Zeros(1); var rv = Tensor.Ones(1);
        var y = F.BatchNorm(x, rm, rv, Tensor.Full(new[] { 1 }, 2f), Tensor.Full(new[] { 1 }, 0.5f), training: true, momentum: 0.1, eps: 1e-5);
        double inv = 1 / Math.Sqrt(3.5 + 1e-5);
        var expected = new[] { 1.0, 2, 3, 6 }.Select(v => (float)((v - 3) * inv * 2 + 0.5)).ToArray();
        AssertClose(expected, y.ToArray(), 1e-6);
        Assert.Equal(0.3f, rm.Item(), 6);
        Assert.Equal((float)(0.9 + 0.1 * 14.0 / 3), rv.Item(), 6);
    }

    [Fact]
    public void BatchNormEvalUsesRunningStats()
    {
        var x = new Tensor(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 2, 2); // (N=2, C=2, L=2)
        var rm = new Tensor(new float[] { 1, -1 }, 2); var rv = new Tensor(new float[] { 4, 0.25f }, 2);
        var y = F.BatchNorm(x, rm, rv, training: false, eps: 0);
        // channel 0: (x − 1)/2 over {1,2,5,6}; channel 1: (x + 1)/0.5 over {3,4,7,8}
        Assert.Equal(new float[] { 0, 0.5f, 8, 10, 2, 2.5f, 16, 18 }, y.ToArray());
        Assert.Equal(new float[] { 1, -1 }, rm.ToArray());
    }

    [Fact]
    public void BatchNormLayerFollowsPyTorch()
    {
        var bn = new BatchNorm2d(3);
        Assert.Equal(new[] { "weight", "bias", "running_mean", "running_var", "num_batches_tracked" }, bn.StateDict().Select(kv => kv.Key));
        Assert.Equal(new[] { "weight", "bias" }, bn.NamedParameters().Select(p => p.Name));
        Assert.Equal(Array.Empty<int>(), bn.NumBatchesTracked!.ShapeCopy());
        Assert.Equal("BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)", bn.ToString());
        Assert.Equal("BatchNorm1d(4, eps=0.001, momentum=None, affine=False, track_running_stats=False)",
            new BatchNorm1d(4, eps: 1e-3, momentum: null, affine: false, trackRunningStats: false).ToString());

        var x = Tensor.Randn(new Generator(5), 4, 3, 2, 2);
        bn.Forward(x); bn.Forward(x);
        Assert.Equal(2f, bn.NumBatchesTracked!.Item());
        var rm = bn.RunningMean!.Clone();
        bn.Eval();
        var y = bn.Forward(x);
        Assert.Equal(2f, bn.NumBatchesTracked!.Item());
        Assert.True(rm.Equal(bn.RunningMean!));
        Assert.True(y.AllClose(F.BatchNorm(x, bn.RunningMean, bn.RunningVar, bn.Weight, bn.Bias, training: false)));

        var e = Assert.Throws<ArgumentException>(() => bn.Forward(Tensor.Zeros(4, 3)));
        Assert.Contains("expected 4D input", e.Message);
        var e2 = Assert.Throws<ArgumentException>(() => new BatchNorm1d(5).Forward(Tensor.Zeros(1, 5)));
        Assert.Contains("more than 1 value per channel", e2.Message);
        var e3 = Assert.Throws<ArgumentException>(() => new BatchNorm1d(5).Forward(Tensor.Zeros(2, 4)));
        Assert.Contains("(5,)", e3.Message);
    }

    [Fact]
    public void CumulativeMomentumAveragesAllBatches()
    {
        var bn = new BatchNorm1d(1, momentum: null);
        bn.Forward(new Tensor(new float[] { 0, 2 }, 2, 1));   // mean 1
        bn.Forward(new Tensor(new float[] { 4, 6 }, 2, 1));   // mean 5
        bn.Forward(new Tensor(new float[] { 8, 10 }, 2, 1));  // mean 9
        Assert.Equal(5f, bn.RunningMean!.Item(), 5);           // (1 + 5 + 9) / 3
        Assert.Equal(2f, bn.RunningVar!.Item(), 5);            // unbiased var of each pair is 2
    }

    [Fact]
    public void BatchNormWithoutRunningStatsUsesBatchStatsInEval()
    {
        var bn = new BatchNorm1d(2, affine: false, trackRunningStats: false);
        Assert.Empty(bn.StateDict());
        bn.Eval();
        var y = bn.Forward(new Tensor(new float[] { 1, 10, 3, 20 }, 2, 2));
        AssertClose(new[] { -1f, -1f, 1f, 1f }, y.ToArray(), 1e-4);
    }

    [Fact]
    public void PoolLayersReprAndDefaults()
    {
        var m = new MaxPool2d(2);
        Assert.Equal((2, 2), m.Stride);
        Assert.Equal("MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)", m.ToString());
        Assert.Equal("AvgPool2d(kernel_size=3, stride=1, padding=1)", new AvgPool2d(3, 1, 1).ToString());
        Assert.Equal("AdaptiveAvgPool2d(output_size=(1, 2))", new AdaptiveAvgPool2d((1, 2)).ToString());
        Assert.Equal(new[] { 2, 4, 1, 2 }, new AdaptiveAvgPool2d((1, 2)).Forward(Tensor.Zeros(2, 4, 5, 5)).ShapeCopy());
    }

    // ------------------------------------------------------------------ gradients vs double reference

    [Theory]
    [InlineData(2, 2, 0, 6, 6)]
    [InlineData(3, 2, 1, 7, 5)]
    [InlineData(3, 1, 1, 4, 4)]
    public void MaxPoolGradient(int k, int s, int p, int h, int w)
    {
        var x = Distinct(101, 2, 3, h, w);
        CheckGrad(x, t => F.MaxPool2d(t, k, s, p), d => RefPool(d, x.ShapeCopy(), k, s, p, max: true));
    }

    [Theory]
    [InlineData(2, 2, 0, 6, 6)]
    [InlineData(3, 2, 1, 7, 5)]
    public void AvgPoolGradient(int k, int s, int p, int h, int w)
    {
        var x = Distinct(102, 2, 3, h, w);
        CheckGrad(x, t => F.AvgPool2d(t, k, s, p), d => RefPool(d, x.ShapeCopy(), k, s, p, max: false));
    }

    [Theory]
    [InlineData(7, 5, 3, 2)]
    [InlineData(4, 4, 1, 1)]
    [InlineData(5, 6, 4, 4)]
    public void AdaptiveAvgPoolGradient(int h, int w, int oh, int ow)
    {
        var x = Distinct(103, 2, 2, h, w);
        CheckGrad(x, t => F.AdaptiveAvgPool2d(t, (oh, ow)), d => RefAdaptive(d, x.ShapeCopy(), oh, ow));
    }

    [Theory]
    [InlineData(true, 4, 3, 1)]   // BatchNorm1d on (N, C)
    [InlineData(true, 3, 2, 5)]   // (N, C, L) / 2-D with H·W = 5
    [InlineData(false, 3, 2, 5)]  // eval mode
    public void BatchNormGradientInInputWeightAndBias(bool training, int n, int c, int l)
    {
        var x = Distinct(104, n, c, l);
        var w = Distinct(105, c); var b = Distinct(106, c);
        var rm = Distinct(107, c);
        var rv = Distinct(108, c).Abs().AddScalar(0.5f);
        const double eps = 1e-5;
        Func<Tensor[], Tensor> f = t => F.BatchNorm(t[0], training ? null : rm, training ? null : rv, t[1], t[2], training, 0.1, eps);
        Func<double[][], double[]> reference = d => RefBatchNorm(d[0], n, c, l, d[1], d[2], training, rm.ToArray(), rv.ToArray(), eps);
        CheckGrads(new[] { x, w, b }, f, reference);
    }

    [Fact]
    public void BatchNorm4dMatchesTheReference()
    {
        var x = Distinct(109, 2, 3, 2, 2);
        var w = Distinct(110, 3); var b = Distinct(111, 3);
        CheckGrads(new[] { x, w, b }, t => F.BatchNorm(t[0], null, null, t[1], t[2], training: true),
            d => RefBatchNorm(d[0], 2, 3, 4, d[1], d[2], true, null, null, 1e-5));
    }

    private static void CheckGrad(Tensor x, Func<Tensor, Tensor> f, Func<double[], double[]> reference) =>
        CheckGrads(new[] { x }, t => f(t[0]), d => reference(d[0]));

    /// <summary>
    /// J = Σ r·f(inputs), r fixed random. Checks the float forward against the double reference and each
    /// input's analytic gradient against central differences of the reference.
    /// </summary>
    private static void CheckGrads(Tensor[] inputs, Func<Tensor[], Tensor> f, Func<double[][], double[]> reference)
    {
        var leaves = inputs.Select(t => t.Clone().RequiresGrad_()).ToArray();
        var y = f(leaves);
        var r = Distinct(7, y.ShapeCopy());
        var rd = r.ToArray().Select(v => (double)v).ToArray();
        var xs = inputs.Select(t => t.ToArray().Select(v => (double)v).ToArray()).ToArray();
        AssertClose(reference(xs).Select(v => (float)v).ToArray(), y.ToArray(), 1e-5);
        (y * r).Sum().Backward();

        const double h = 1e-6;
        for (int k = 0; k < inputs.Length; k++)
        {
            var analytic = leaves[k].Grad!.ToArray();
            for (int i = 0; i < xs[k].Length; i++)
            {
                double orig = xs[k][i];
                xs[k][i] = orig + h; double jp = Dot(reference(xs), rd);
                xs[k][i] = orig - h; double jm = Dot(reference(xs), rd);
                xs[k][i] = orig;
                double numeric = (jp - jm) / (2 * h);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-4 + 1e-4 * Math.Abs(numeric),
                    $"input {k}, element {i}: analytic {analytic[i]:G7}, numeric {numeric:G7}");
            }
        }
    }

    private static double Dot(double[] a, double[] b) { double s = 0; for (int i = 0; i < a.Length; i++) s += a[i] * b[i]; return s; }

    private static void AssertClose(float[] expected, float[] actual, double tol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tol * (1 + Math.Abs(expected[i])), $"element {i}: expected {expected[i]:G7}, actual {actual[i]:G7}");
    }

    /// <summary>Values in (−2, 2) that are pairwise apart by ≥ 1e-3, so max-pool windows have no near-ties.</summary>
    private static Tensor Distinct(ulong seed, params int[] shape)
    {
        int n = (int)Shapes.Numel(shape);
        var perm = new Generator(seed).Permutation(n);
        var data = new float[n];
        for (int i = 0; i < n; i++) data[i] = (perm[i] - n / 2f) * (3.5f / Math.Max(n, 2)) + 0.01f;
        return new Tensor(data, shape);
    }

    // ------------------------------------------------------------------ double-precision references

    private static double[] RefPool(double[] x, int[] s, int k, int st, int p, bool max)
    {
        int n = s[0], c = s[1], h = s[2], w = s[3];
        int oh = (h + 2 * p - k) / st + 1, ow = (w + 2 * p - k) / st + 1;
        var y = new double[n * c * oh * ow];
        for (int pl = 0; pl < n * c; pl++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double acc = max ? double.NegativeInfinity : 0;
                    for (int a = 0; a < k; a++)
                        for (int b = 0; b < k; b++)
                        {
                            int r = i * st - p + a, q = j * st - p + b;
                            if (r < 0 || r >= h || q < 0 || q >= w) continue; // padding: −inf for max, 0 for avg
                            double v = x[(pl * h + r) * w + q];
                            acc = max ? Math.Max(acc, v) : acc + v;
                        }
                    // count_include_pad: the divisor is the window clipped to the padded input.
                    int rh = Math.Min(i * st - p + k, h + p) - (i * st - p), rw = Math.Min(j * st - p + k, w + p) - (j * st - p);
                    y[(pl * oh + i) * ow + j] = max ? acc : acc / (rh * rw);
                }
        return y;
    }

    private static double[] RefAdaptive(double[] x, int[] s, int oh, int ow)
    {
        int n = s[0], c = s[1], h = s[2], w = s[3];
        var y = new double[n * c * oh * ow];
        for (int pl = 0; pl < n * c; pl++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int r0 = (int)Math.Floor((double)i * h / oh), r1 = (int)Math.Ceiling((double)(i + 1) * h / oh);
                    int q0 = (int)Math.Floor((double)j * w / ow), q1 = (int)Math.Ceiling((double)(j + 1) * w / ow);
                    double acc = 0;
                    for (int r = r0; r < r1; r++) for (int q = q0; q < q1; q++) acc += x[(pl * h + r) * w + q];
                    y[(pl * oh + i) * ow + j] = acc / ((r1 - r0) * (q1 - q0));
                }
        return y;
    }

    private static double[] RefBatchNorm(double[] x, int n, int c, int l, double[] w, double[] b, bool training,
        float[]? rm, float[]? rv, double eps)
    {
        var y = new double[x.Length];
        for (int ch = 0; ch < c; ch++)
        {
            double mean, var;
            if (training)
            {
                mean = 0; for (int i = 0; i < n; i++) for (int j = 0; j < l; j++) mean += x[(i * c + ch) * l + j];
                mean /= n * l;
                var = 0; for (int i = 0; i < n; i++) for (int j = 0; j < l; j++) { double d = x[(i * c + ch) * l + j] - mean; var += d * d; }
                var /= n * l;
            }
            else { mean = rm![ch]; var = rv![ch]; }
            for (int i = 0; i < n; i++)
                for (int j = 0; j < l; j++)
                {
                    int idx = (i * c + ch) * l + j;
                    y[idx] = (x[idx] - mean) / Math.Sqrt(var + eps) * w[ch] + b[ch];
                }
        }
        return y;
    }
}
