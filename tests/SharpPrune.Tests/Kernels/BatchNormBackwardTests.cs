using SharpPrune.Kernels;
using static SharpPrune.Tests.Kernels.KernelTestUtil;

namespace SharpPrune.Tests.Kernels;

/// <summary>
/// BatchNorm backward kernel against a double-precision reference, on both of its traversals: row order for
/// maps under 512 pixels, channel order from 512 up; serial and split across threads.
/// </summary>
[Collection("Kernels")]
public class BatchNormBackwardTests
{
    [Theory]
    [InlineData(8, 6, 64)]      // row order, serial
    [InlineData(16, 40, 64)]    // row order, ≥ 2^15 elements: threaded
    [InlineData(5, 7, 9)]       // row order, rows shorter than a vector plus a tail
    [InlineData(6, 4, 1)]       // BatchNorm1d on (N, C)
    [InlineData(3, 3, 1024)]    // channel order, serial
    [InlineData(8, 5, 1024)]    // channel order, threaded
    public void BackwardMatchesDoubleReference(int n, int c, int l)
    {
        foreach (bool training in new[] { true, false })
            foreach (bool affine in new[] { true, false })
                foreach (int threads in new[] { 1, 2 })
                    WithThreads(threads, () => Check(n, c, l, training, affine, $"n={n} c={c} l={l} training={training} affine={affine} t={threads}"));
    }

    private static void Check(int n, int c, int l, bool training, bool affine, string what)
    {
        const double eps = 1e-5;
        int total = n * c * l;
        var x = Random(total, 1, 2f);
        var dy = Random(total, 2);
        var w = affine ? Random(c, 3) : [];
        var rm = Random(c, 4, 0.5f);
        var rv = Random(c, 5);
        for (int i = 0; i < c; i++) rv[i] = 0.5f + Math.Abs(rv[i]);

        // Per-channel mean and 1/std as the training forward saves them (or the running statistics in eval).
        var mean = new float[c]; var stat = new float[c]; var invstd = new double[c]; var mu = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double s = 0, q = 0;
            for (int b = 0; b < n; b++) for (int i = 0; i < l; i++) s += x[(b * c + ch) * l + i];
            double m = s / (n * l);
            for (int b = 0; b < n; b++) for (int i = 0; i < l; i++) { double d = x[(b * c + ch) * l + i] - m; q += d * d; }
            mean[ch] = training ? (float)m : rm[ch];
            stat[ch] = training ? (float)(1 / Math.Sqrt(q / (n * l) + eps)) : rv[ch];
            mu[ch] = mean[ch];
            invstd[ch] = training ? stat[ch] : 1 / Math.Sqrt(rv[ch] + eps);
        }

        var eDx = new double[total]; var eDw = new double[c]; var eDb = new double[c];
        var magDx = new double[total]; var magDw = new double[c];
        for (int ch = 0; ch < c; ch++)
        {
            double sumDy = 0, sumDyXhat = 0, sumAbs = 0, wc = affine ? w[ch] : 1;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < l; i++)
                {
                    int k = (b * c + ch) * l + i;
                    double xhat = (x[k] - mu[ch]) * invstd[ch];
                    sumDy += dy[k]; sumDyXhat += dy[k] * xhat; sumAbs += Math.Abs(dy[k] * xhat) + Math.Abs(dy[k]);
                }
            eDb[ch] = sumDy; eDw[ch] = sumDyXhat; magDw[ch] = sumAbs;
            int count = n * l;
            for (int b = 0; b < n; b++)
                for (int i = 0; i < l; i++)
                {
                    int k = (b * c + ch) * l + i;
                    double xhat = (x[k] - mu[ch]) * invstd[ch];
                    eDx[k] = training
                        ? (dy[k] - sumDy / count - xhat * sumDyXhat / count) * invstd[ch] * wc
                        : dy[k] * invstd[ch] * wc;
                    magDx[k] = training ? (Math.Abs(dy[k]) + sumAbs / count * (1 + Math.Abs(xhat))) * invstd[ch] * Math.Abs(wc) : 0;
                }
        }

        var dx = new float[total]; var dw = new float[c]; var db = new float[c];
        Array.Fill(dx, float.NaN); Array.Fill(dw, float.NaN); Array.Fill(db, float.NaN);
        if (training) BatchNormKernels.BackwardTraining(n, c, l, x, dy, w, mean, stat, dx, dw, db);
        else BatchNormKernels.BackwardInference(n, c, l, x, dy, w, rm, rv, eps, dx, dw, db);
        AssertClose(eDx, dx, 1e-5, 1e-6, magDx, "dx " + what);
        AssertClose(eDw, dw, 1e-5, 1e-6, magDw, "dweight " + what);
        AssertClose(eDb, db, 1e-5, 1e-6, magDw, "dbias " + what);

        // Input gradient not wanted: the parameter gradients alone.
        Array.Fill(dw, float.NaN); Array.Fill(db, float.NaN);
        if (training) BatchNormKernels.BackwardTraining(n, c, l, x, dy, w, mean, stat, Span<float>.Empty, dw, db);
        else BatchNormKernels.BackwardInference(n, c, l, x, dy, w, rm, rv, eps, Span<float>.Empty, dw, db);
        AssertClose(eDw, dw, 1e-5, 1e-6, magDw, "dweight only " + what);
    }
}
