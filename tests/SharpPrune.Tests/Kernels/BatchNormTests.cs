using SharpPrune.Kernels;
using static SharpPrune.Tests.Kernels.KernelTestUtil;

namespace SharpPrune.Tests.Kernels;

[Collection("Kernels")]
public class BatchNormTests
{
    /// <summary>Double-precision training-mode forward of y = (x − mean)/√(var + eps)·w + b.</summary>
    private static double[] RefForward(int n, int c, int l, double[] x, double[]? w, double[]? b, double eps,
        out double[] mean, out double[] biasedVar)
    {
        mean = new double[c]; biasedVar = new double[c];
        var y = new double[x.Length];
        int m = n * l;
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < l; j++) s += x[(i * c + ch) * l + j];
            double mu = s / m, v = 0;
            for (int i = 0; i < n; i++) for (int j = 0; j < l; j++) v += Math.Pow(x[(i * c + ch) * l + j] - mu, 2);
            v /= m;
            mean[ch] = mu; biasedVar[ch] = v;
            for (int i = 0; i < n; i++)
                for (int j = 0; j < l; j++)
                {
                    int k = (i * c + ch) * l + j;
                    y[k] = (x[k] - mu) / Math.Sqrt(v + eps) * (w?[ch] ?? 1) + (b?[ch] ?? 0);
                }
        }
        return y;
    }

    private static double[] ToDouble(float[]? a) => a == null ? [] : Array.ConvertAll(a, v => (double)v);

    [Theory]
    [InlineData(4, 3, 5, true)]
    [InlineData(7, 2, 1, true)]     // BatchNorm1d layout
    [InlineData(3, 4, 17, false)]   // no affine
    [InlineData(16, 32, 64, true)]  // parallel; backward walks rows in memory order (small maps)
    [InlineData(3, 4, 1024, true)]  // parallel; backward walks channel by channel (maps of 512 pixels and more)
    [InlineData(3, 4, 29, true)]    // 16 + 8 + 4 + 1: every vector width's loop and the scalar tail
    [InlineData(2, 3, 1053, true)]  // channel order with a 13-float tail
    public void TrainingForwardBackwardAndRunningStats(int n, int c, int l, bool affine)
    {
        const double eps = 1e-5, momentum = 0.1;
        var x = Random(n * c * l, 1, 3f);
        for (int i = 0; i < x.Length; i++) x[i] += 2f; // non-zero mean
        var w = affine ? Random(c, 2) : null;
        var b = affine ? Random(c, 3) : null;
        var gy = Random(x.Length, 4);
        var rm = Random(c, 5); var rv = Random(c, 6);
        for (int i = 0; i < c; i++) rv[i] = Math.Abs(rv[i]) + 0.5f;
        var rm0 = (float[])rm.Clone(); var rv0 = (float[])rv.Clone();

        var expY = RefForward(n, c, l, ToDouble(x), affine ? ToDouble(w) : null, affine ? ToDouble(b) : null, eps, out var mean, out var bvar);

        var y = new float[x.Length]; var sm = new float[c]; var si = new float[c];
        var gx = new float[x.Length]; var gw = new float[c]; var gb = new float[c];
        void Run()
        {
            rm = (float[])rm0.Clone(); rv = (float[])rv0.Clone();
            WithThreads(2, () =>
            {
                BatchNormKernels.ForwardTraining(n, c, l, x, w ?? Span<float>.Empty, b ?? Span<float>.Empty, y, sm, si, rm, rv, momentum, eps);
                BatchNormKernels.BackwardTraining(n, c, l, x, gy, w ?? Span<float>.Empty, sm, si, gx, affine ? gw : Span<float>.Empty, affine ? gb : Span<float>.Empty);
            });
        }
        // Every path, portable included (the vector width changes summation order only), against the reference and
        // the default path.
        Run();
        var defY = (float[])y.Clone(); var defGx = (float[])gx.Clone();
        ForEveryIsa(isa =>
        {
            Run();
            AssertClose(expY, y, 1e-4, 1e-5, default, $"y ({isa})");
            AssertClose(defY, y, 1e-5, 1e-6, $"y vs default path ({isa})");
            AssertClose(defGx, gx, 1e-4, 1e-5, $"dx vs default path ({isa})");
        });
        Run();
        AssertClose(expY, y, 1e-4, 1e-5, default, "y");
        int m = n * l;
        for (int ch = 0; ch < c; ch++)
        {
            Assert.Equal(mean[ch], sm[ch], 1e-5);
            Assert.Equal(1 / Math.Sqrt(bvar[ch] + eps), si[ch], 1e-4 * si[ch]);
            Assert.Equal(0.9 * rm0[ch] + 0.1 * mean[ch], rm[ch], 1e-5);
            Assert.Equal(0.9 * rv0[ch] + 0.1 * bvar[ch] * m / (m - 1), rv[ch], 1e-4);
        }

        // Backward vs central differences of L = Σ y·gy on the double reference.
        var xd = ToDouble(x); var wd = affine ? ToDouble(w) : null; var bd = affine ? ToDouble(b) : null;
        double Loss(double[] xx, double[]? ww, double[]? bb)
        {
            var yy = RefForward(n, c, l, xx, ww, bb, eps, out _, out _);
            double s = 0;
            for (int i = 0; i < yy.Length; i++) s += yy[i] * gy[i];
            return s;
        }
        const double h = 1e-5;
        var rng = new Random(9);
        for (int t = 0; t < 12; t++)
        {
            int i = rng.Next(x.Length);
            double old = xd[i];
            xd[i] = old + h; double lp = Loss(xd, wd, bd);
            xd[i] = old - h; double lm = Loss(xd, wd, bd);
            xd[i] = old;
            double num = (lp - lm) / (2 * h);
            Assert.True(Math.Abs(num - gx[i]) <= 1e-3 * (Math.Abs(num) + 1), $"dx[{i}]: numeric {num}, kernel {gx[i]}");
        }
        if (affine)
        {
            for (int ch = 0; ch < c; ch++)
            {
                double sdy = 0, sdyx = 0;
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < l; j++)
                    {
                        int k = (i * c + ch) * l + j;
                        sdy += gy[k]; sdyx += gy[k] * (xd[k] - mean[ch]) / Math.Sqrt(bvar[ch] + eps);
                    }
                Assert.True(Math.Abs(sdy - gb[ch]) <= 1e-4 * (Math.Abs(sdy) + 1), $"gb[{ch}]");
                Assert.True(Math.Abs(sdyx - gw[ch]) <= 1e-4 * (Math.Abs(sdyx) + 1), $"gw[{ch}]");
            }
        }
    }

    [Fact]
    public void BatchStatisticsStayAccurateForALargeMeanAndSmallSpread()
    {
        // One pass accumulating (x − first value) and its square in double: still exact enough when |mean| ≫ std.
        int n = 8, c = 2, l = 50;
        var x = Random(n * c * l, 9, 0.01f);
        for (int i = 0; i < x.Length; i++) x[i] += 1000f;
        RefForward(n, c, l, ToDouble(x), null, null, 1e-5, out var mean, out var bvar);
        var y = new float[x.Length]; var sm = new float[c]; var si = new float[c];
        BatchNormKernels.ForwardTraining(n, c, l, x, Span<float>.Empty, Span<float>.Empty, y, sm, si,
            Span<float>.Empty, Span<float>.Empty, 0.1, 1e-5);
        for (int ch = 0; ch < c; ch++)
        {
            Assert.Equal(mean[ch], sm[ch], 1e-3);
            double invstd = 1 / Math.Sqrt(bvar[ch] + 1e-5);
            Assert.True(Math.Abs(si[ch] - invstd) <= 1e-5 * invstd, $"channel {ch}: invstd {si[ch]} vs {invstd}");
        }
    }

    [Fact]
    public void InferenceForwardAndBackward()
    {
        int n = 3, c = 4, l = 10;
        const double eps = 1e-3;
        var x = Random(n * c * l, 1); var w = Random(c, 2); var b = Random(c, 3);
        var rm = Random(c, 4); var rv = Random(c, 5);
        for (int i = 0; i < c; i++) rv[i] = Math.Abs(rv[i]) + 0.1f;
        var gy = Random(x.Length, 6);
        var y = new float[x.Length]; var gx = new float[x.Length]; var gw = new float[c]; var gb = new float[c];
        BatchNormKernels.ForwardInference(n, c, l, x, w, b, rm, rv, eps, y);
        BatchNormKernels.BackwardInference(n, c, l, x, gy, w, rm, rv, eps, gx, gw, gb);
        var expY = new double[x.Length]; var expGx = new double[x.Length];
        var expGw = new double[c]; var expGb = new double[c];
        for (int i = 0; i < n; i++)
            for (int ch = 0; ch < c; ch++)
                for (int j = 0; j < l; j++)
                {
                    int k = (i * c + ch) * l + j;
                    double inv = 1 / Math.Sqrt(rv[ch] + eps), xh = (x[k] - rm[ch]) * inv;
                    expY[k] = xh * w[ch] + b[ch];
                    expGx[k] = gy[k] * w[ch] * inv;
                    expGw[ch] += gy[k] * xh; expGb[ch] += gy[k];
                }
        AssertClose(expY, y, 1e-5, 1e-6);
        AssertClose(expGx, gx, 1e-5, 1e-6);
        AssertClose(expGw, gw, 1e-4, 1e-5);
        AssertClose(expGb, gb, 1e-4, 1e-5);
    }

    [Fact]
    public void SingleValuePerChannelThrowsInTraining()
    {
        Assert.Throws<ArgumentException>(() => BatchNormKernels.ForwardTraining(1, 2, 1, new float[2], default, default,
            new float[2], new float[2], new float[2], default, default, 0.1, 1e-5));
    }
}
