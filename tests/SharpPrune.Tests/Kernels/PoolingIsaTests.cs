using SharpPrune.Kernels;
using static SharpPrune.Tests.Kernels.KernelTestUtil;

namespace SharpPrune.Tests.Kernels;

/// <summary>
/// The pooling kernels on every ISA path this CPU has (portable, AVX2, AVX-512) and on 1 and 2 threads, against
/// a scalar reference: the 2×2 / stride 2 fast paths (per row and across rows and planes) must keep the general
/// loop's scan order, tie, NaN and index rules, and the backward passes must match the scatter bit for bit.
/// </summary>
[Collection("Kernels")]
public class PoolingIsaTests
{
    private static float[] WithNaNsAndTies(int length, int seed)
    {
        var x = Random(length, seed);
        var rnd = new System.Random(seed);
        for (int i = 0; i < x.Length; i++)
        {
            int r = rnd.Next(24);
            if (r == 0) x[i] = float.NaN;
            else if (r == 1) x[i] = float.NegativeInfinity;
            else if (r < 6) x[i] = 0.5f; // ties
            else if (r == 6) x[i] = -0f;
        }
        return x;
    }

    /// <summary>2×2 / stride-2 max pooling by the general loop's rules: row-major scan, the first of equal values,
    /// NaN wins. Returns the outputs and each one's index within its input plane.</summary>
    internal static (float[] Y, int[] Index) MaxPool2x2Reference(float[] x, int planes, int h, int w)
    {
        int oh = h / 2, ow = w / 2;
        var y = new float[planes * oh * ow]; var index = new int[y.Length];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    float best = float.NegativeInfinity; int bi = 2 * i * w + 2 * j;
                    for (int r = 2 * i; r < 2 * i + 2; r++)
                        for (int q = 2 * j; q < 2 * j + 2; q++)
                        {
                            float v = x[p * h * w + r * w + q];
                            if (v > best || float.IsNaN(v)) { best = v; bi = r * w + q; }
                        }
                    int o = (p * oh + i) * ow + j;
                    y[o] = best; index[o] = bi;
                }
        return (y, index);
    }

    private static void AssertBitwise(float[] expected, float[] actual, string what)
    {
        for (int i = 0; i < expected.Length; i++)
            Assert.True(BitConverter.SingleToInt32Bits(expected[i]) == BitConverter.SingleToInt32Bits(actual[i])
                || (float.IsNaN(expected[i]) && float.IsNaN(actual[i])),
                $"{what}: element {i}: expected {expected[i]}, got {actual[i]}");
    }

    [Theory]
    [InlineData(2, 3, 8, 8)]      // 4×4 outputs: 16-output blocks hold one plane
    [InlineData(3, 5, 4, 4)]      // 2×2 outputs, 15 planes: a partial block left to the per-plane loop
    [InlineData(1, 7, 2, 2)]      // 1 output per plane
    [InlineData(2, 3, 16, 16)]    // 8 outputs per row: two rows per block
    [InlineData(2, 2, 32, 32)]    // 16 outputs per row
    [InlineData(1, 2, 6, 52)]     // 26 per row: 16 wide, 8 wide, scalar tail
    [InlineData(2, 3, 9, 37)]     // odd sizes: last row and column dropped
    [InlineData(2, 2, 12, 8)]     // 6×4 outputs: 24 per plane, not a divisor or multiple of 16
    [InlineData(8, 64, 16, 16)]   // parallel over planes
    [InlineData(1, 4099, 4, 4)]   // parallel, uneven plane blocks, 4 outputs per plane
    public void MaxPool2x2ForwardAndBackwardMatchTheScalarReference(int n, int c, int h, int w)
    {
        int oh = h / 2, ow = w / 2, planes = n * c;
        var x = WithNaNsAndTies(planes * h * w, h * 31 + w);
        var gy = Random(planes * oh * ow, 9);
        gy[0] = -0f;
        var (expY, expIdx) = MaxPool2x2Reference(x, planes, h, w);
        var expGx = new float[x.Length];
        for (int o = 0; o < expY.Length; o++) expGx[o / (oh * ow) * h * w + expIdx[o]] += gy[o];
        ForEveryIsaAndThreadCount((isa, threads) =>
        {
            string what = $"{isa}, {threads} threads";
            var y = new float[expY.Length]; var idx = new int[expY.Length];
            PoolingKernels.MaxPool2dForward(n, c, h, w, 2, 2, 2, 2, 0, 0, x, y, idx);
            AssertBitwise(expY, y, what + " forward");
            Assert.Equal(expIdx, idx);
            var yNoIdx = new float[expY.Length];
            PoolingKernels.MaxPool2dForward(n, c, h, w, 2, 2, 2, 2, 0, 0, x, yNoIdx, Span<int>.Empty);
            for (int i = 0; i < y.Length; i++)
                Assert.True(expY[i].Equals(yNoIdx[i]), $"{what} no indices: output {i}: expected {expY[i]}, got {yNoIdx[i]}");
            var gx = new float[x.Length];
            Array.Fill(gx, float.NaN);
            PoolingKernels.MaxPool2dBackward(n, c, h, w, oh, ow, gy, idx, gx);
            AssertBitwise(expGx, gx, what + " backward");
        });
    }

    [Theory]
    [InlineData(2, 3, 8, 8, 3, 1)]   // 3×3 / stride 2 / pad 1 on even sizes: the output is H/2 × W/2 but windows overlap
    [InlineData(1, 4, 16, 16, 3, 1)]
    [InlineData(2, 3, 8, 8, 1, 0)]   // 1×1 / stride 2: every index is a window corner, the others get zero
    public void MaxPoolBackwardOfOtherWindowsWithHalfSizeOutputsStillScatters(int n, int c, int h, int w, int k, int pad)
    {
        int oh = PoolingKernels.OutputSize(h, k, 2, pad), ow = PoolingKernels.OutputSize(w, k, 2, pad);
        Assert.Equal(h / 2, oh);
        var x = Random(n * c * h * w, 11);
        var gy = Random(n * c * oh * ow, 12);
        var idx = new int[gy.Length];
        PoolingKernels.MaxPool2dForward(n, c, h, w, k, k, 2, 2, pad, pad, x, new float[gy.Length], idx);
        var expGx = new float[x.Length];
        for (int p = 0; p < n * c; p++)
            for (int o = 0; o < oh * ow; o++) expGx[p * h * w + idx[p * oh * ow + o]] += gy[p * oh * ow + o];
        ForEveryIsaAndThreadCount((isa, threads) =>
        {
            var gx = new float[x.Length];
            Array.Fill(gx, float.NaN);
            PoolingKernels.MaxPool2dBackward(n, c, h, w, oh, ow, gy, idx, gx);
            AssertBitwise(expGx, gx, $"{isa}, {threads} threads");
        });
    }

    [Theory]
    [InlineData(2, 3, 8, 8)]
    [InlineData(3, 5, 4, 4)]
    [InlineData(1, 7, 2, 2)]
    [InlineData(2, 3, 16, 16)]
    [InlineData(2, 2, 32, 32)]
    [InlineData(2, 3, 9, 37)]
    [InlineData(2, 2, 12, 8)]
    [InlineData(8, 64, 16, 16)]
    [InlineData(1, 4099, 4, 4)]
    public void AvgPool2x2MatchesTheScalarLoopBitForBit(int n, int c, int h, int w)
    {
        int oh = h / 2, ow = w / 2, planes = n * c;
        var x = Random(planes * h * w, 13);
        x[0] = -0f; x[1] = -0f; x[w] = -0f; x[w + 1] = -0f; // a window of negative zeros sums to +0 from 0
        var gy = Random(planes * oh * ow, 14);
        gy[0] = -0f;
        var expY = new float[planes * oh * ow]; var expGx = new float[x.Length];
        for (int p = 0; p < planes; p++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++)
                {
                    float s = 0f;
                    for (int r = 2 * i; r < 2 * i + 2; r++)
                        for (int q = 2 * j; q < 2 * j + 2; q++) s += x[p * h * w + r * w + q];
                    int o = (p * oh + i) * ow + j;
                    expY[o] = s / 4;
                    for (int r = 2 * i; r < 2 * i + 2; r++)
                        for (int q = 2 * j; q < 2 * j + 2; q++) expGx[p * h * w + r * w + q] += gy[o] / 4;
                }
        ForEveryIsaAndThreadCount((isa, threads) =>
        {
            string what = $"{isa}, {threads} threads";
            var y = new float[expY.Length]; var gx = new float[x.Length];
            Array.Fill(gx, float.NaN);
            PoolingKernels.AvgPool2dForward(n, c, h, w, 2, 2, 2, 2, 0, 0, x, y);
            PoolingKernels.AvgPool2dBackward(n, c, h, w, 2, 2, 2, 2, 0, 0, gy, gx);
            AssertBitwise(expY, y, what + " forward");
            AssertBitwise(expGx, gx, what + " backward");
        });
    }
}
