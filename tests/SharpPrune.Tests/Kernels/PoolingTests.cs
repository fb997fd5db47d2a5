using SharpPrune.Kernels;
using static SharpPrune.Tests.Kernels.KernelTestUtil;

namespace SharpPrune.Tests.Kernels;

[Collection("Kernels")]
public class PoolingTests
{
    [Theory]
    [InlineData(2, 3, 8, 8, 2, 2, 2, 2, 0, 0)]
    [InlineData(1, 2, 7, 9, 3, 3, 2, 2, 1, 1)]
    [InlineData(3, 1, 5, 6, 3, 2, 1, 2, 1, 1)]
    [InlineData(1, 1, 1, 1, 1, 1, 1, 1, 0, 0)]
    [InlineData(4, 64, 16, 16, 3, 3, 2, 2, 1, 1)] // large enough to run in parallel
    public void MaxPool(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw)
    {
        int oh = PoolingKernels.OutputSize(h, kh, sh, ph), ow = PoolingKernels.OutputSize(w, kw, sw, pw);
        var x = Random(n * c * h * w, 3);
        var gy = Random(n * c * oh * ow, 4);
        var expY = new float[n * c * oh * ow];
        var expIdx = new int[expY.Length];
        var expGx = new double[x.Length];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    float best = float.NegativeInfinity; int bi = -1;
                    for (int r = i * sh - ph; r < i * sh - ph + kh; r++)
                        for (int q = j * sw - pw; q < j * sw - pw + kw; q++)
                            if (r >= 0 && r < h && q >= 0 && q < w && x[p * h * w + r * w + q] > best) { best = x[p * h * w + r * w + q]; bi = r * w + q; }
                    int o = (p * oh + i) * ow + j;
                    expY[o] = best; expIdx[o] = bi;
                    expGx[p * h * w + bi] += gy[o];
                }
        var y = new float[expY.Length]; var idx = new int[expY.Length];
        var gx = new float[x.Length];
        Array.Fill(gx, float.NaN);
        WithThreads(2, () =>
        {
            PoolingKernels.MaxPool2dForward(n, c, h, w, kh, kw, sh, sw, ph, pw, x, y, idx);
            PoolingKernels.MaxPool2dBackward(n, c, h, w, oh, ow, gy, idx, gx);
        });
        Assert.Equal(expY, y);
        Assert.Equal(expIdx, idx);
        AssertClose(expGx, gx, 1e-6, 1e-6);
    }

    [Theory]
    [InlineData(2, 3, 9, 37)]   // odd sizes: 16 vector outputs + scalar tail per row, last row/column dropped
    [InlineData(1, 2, 4, 16)]
    [InlineData(3, 4, 24, 24)]
    public void MaxPool2x2FastPathKeepsTheScanOrderTiesAndNaNRules(int n, int c, int h, int w)
    {
        int oh = h / 2, ow = w / 2;
        var x = Random(n * c * h * w, 5);
        var rnd = new System.Random(1);
        for (int i = 0; i < x.Length; i++)
        {
            int r = rnd.Next(20);
            if (r == 0) x[i] = float.NaN;
            else if (r == 1) x[i] = float.NegativeInfinity;
            else if (r < 6) x[i] = 0.5f; // ties
        }
        var (expY, expIdx) = PoolingIsaTests.MaxPool2x2Reference(x, n * c, h, w);
        foreach (bool withIdx in new[] { true, false })
        {
            var y = new float[expY.Length]; var idx = withIdx ? new int[expY.Length] : Array.Empty<int>();
            WithThreads(2, () => PoolingKernels.MaxPool2dForward(n, c, h, w, 2, 2, 2, 2, 0, 0, x, y, idx));
            for (int i = 0; i < y.Length; i++)
                Assert.True(expY[i].Equals(y[i]), $"output {i}: expected {expY[i]}, got {y[i]} (indices {withIdx})");
            if (withIdx) Assert.Equal(expIdx, idx);
        }
    }

    [Fact]
    public void MaxPoolPropagatesNaNAndAllowsNoIndices()
    {
        var x = new float[] { 1, float.NaN, 3, 4 };
        var y = new float[1]; var idx = new int[1];
        PoolingKernels.MaxPool2dForward(1, 1, 2, 2, 2, 2, 2, 2, 0, 0, x, y, idx);
        Assert.True(float.IsNaN(y[0]));
        Assert.Equal(1, idx[0]);
        PoolingKernels.MaxPool2dForward(1, 1, 2, 2, 2, 2, 2, 2, 0, 0, new float[] { 1, 5, 3, 4 }, y, Span<int>.Empty);
        Assert.Equal(5f, y[0]);
    }

    [Theory]
    [InlineData(2, 3, 8, 8, 2, 2, 2, 2, 0, 0, true)]
    [InlineData(1, 2, 7, 9, 3, 3, 2, 2, 1, 1, true)]
    [InlineData(1, 2, 7, 9, 3, 3, 2, 2, 1, 1, false)]
    [InlineData(2, 2, 5, 6, 3, 2, 1, 2, 1, 1, true)]
    [InlineData(4, 64, 16, 16, 3, 3, 1, 1, 1, 1, true)]
    public void AvgPool(int n, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, bool includePad)
    {
        int oh = PoolingKernels.OutputSize(h, kh, sh, ph), ow = PoolingKernels.OutputSize(w, kw, sw, pw);
        var x = Random(n * c * h * w, 5);
        var gy = Random(n * c * oh * ow, 6);
        var expY = new double[n * c * oh * ow];
        var expGx = new double[x.Length];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    double s = 0; int valid = 0;
                    for (int r = i * sh - ph; r < i * sh - ph + kh; r++)
                        for (int q = j * sw - pw; q < j * sw - pw + kw; q++)
                            if (r >= 0 && r < h && q >= 0 && q < w) { s += x[p * h * w + r * w + q]; valid++; }
                    int div = includePad ? kh * kw : valid, o = (p * oh + i) * ow + j;
                    expY[o] = s / div;
                    for (int r = i * sh - ph; r < i * sh - ph + kh; r++)
                        for (int q = j * sw - pw; q < j * sw - pw + kw; q++)
                            if (r >= 0 && r < h && q >= 0 && q < w) expGx[p * h * w + r * w + q] += gy[o] / div;
                }
        var y = new float[expY.Length]; var gx = new float[x.Length];
        Array.Fill(gx, float.NaN);
        WithThreads(2, () =>
        {
            PoolingKernels.AvgPool2dForward(n, c, h, w, kh, kw, sh, sw, ph, pw, x, y, includePad);
            PoolingKernels.AvgPool2dBackward(n, c, h, w, kh, kw, sh, sw, ph, pw, gy, gx, includePad);
        });
        AssertClose(expY, y, 1e-5, 1e-6);
        AssertClose(expGx, gx, 1e-5, 1e-6);
    }

    [Theory]
    [InlineData(2, 3, 7, 7, 1, 1)]
    [InlineData(1, 2, 7, 5, 3, 2)]
    [InlineData(1, 2, 3, 4, 5, 7)]   // output larger than input: overlapping bins
    [InlineData(2, 2, 10, 10, 4, 4)]
    [InlineData(8, 64, 8, 8, 1, 1)]  // global pooling, parallel
    public void AdaptiveAvgPool(int n, int c, int h, int w, int oh, int ow)
    {
        var x = Random(n * c * h * w, 7);
        var gy = Random(n * c * oh * ow, 8);
        var expY = new double[n * c * oh * ow];
        var expGx = new double[x.Length];
        for (int p = 0; p < n * c; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    int r0 = (int)Math.Floor((double)i * h / oh), r1 = (int)Math.Ceiling((double)(i + 1) * h / oh);
                    int q0 = (int)Math.Floor((double)j * w / ow), q1 = (int)Math.Ceiling((double)(j + 1) * w / ow);
                    double s = 0; int cnt = (r1 - r0) * (q1 - q0), o = (p * oh + i) * ow + j;
                    for (int r = r0; r < r1; r++) for (int q = q0; q < q1; q++) s += x[p * h * w + r * w + q];
                    expY[o] = s / cnt;
                    for (int r = r0; r < r1; r++) for (int q = q0; q < q1; q++) expGx[p * h * w + r * w + q] += gy[o] / cnt;
                }
        var y = new float[expY.Length]; var gx = new float[x.Length];
        Array.Fill(gx, float.NaN);
        WithThreads(2, () =>
        {
            PoolingKernels.AdaptiveAvgPool2dForward(n, c, h, w, oh, ow, x, y);
            PoolingKernels.AdaptiveAvgPool2dBackward(n, c, h, w, oh, ow, gy, gx);
        });
        AssertClose(expY, y, 1e-5, 1e-6);
        AssertClose(expGx, gx, 1e-5, 1e-6);
    }
}
