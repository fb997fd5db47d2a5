using SharpPrune.Kernels;
using static SharpPrune.Tests.Kernels.KernelTestUtil;

namespace SharpPrune.Tests.Kernels;

[Collection("Kernels")]
public class Conv2dTests
{
    /// <summary>Direct-loop reference: forward output, grad input, grad weight, grad bias (double accumulation).</summary>
    private sealed class Reference
    {
        public double[] Out = [], OutMag = [], GradIn = [], GradInMag = [], GradW = [], GradWMag = [], GradB = [];

        public Reference(Conv2dGeometry g, float[] x, float[] w, float[]? bias, float[] gy)
        {
            int oh = g.OutH, ow = g.OutW, cig = g.CIn / g.Groups, cog = g.COut / g.Groups;
            Out = new double[g.OutputLength]; OutMag = new double[Out.Length];
            GradIn = new double[g.InputLength]; GradInMag = new double[GradIn.Length];
            GradW = new double[g.WeightLength]; GradWMag = new double[GradW.Length];
            GradB = new double[g.COut];
            for (int n = 0; n < g.N; n++)
                for (int co = 0; co < g.COut; co++)
                {
                    int grp = co / cog;
                    for (int i = 0; i < oh; i++)
                        for (int j = 0; j < ow; j++)
                        {
                            int oi = ((n * g.COut + co) * oh + i) * ow + j;
                            double s = bias?[co] ?? 0, mag = Math.Abs(s), go = gy[oi];
                            GradB[co] += go;
                            for (int ci = 0; ci < cig; ci++)
                                for (int kh = 0; kh < g.KH; kh++)
                                    for (int kw = 0; kw < g.KW; kw++)
                                    {
                                        int ih = i * g.StrideH - g.PadH + kh * g.DilH, iw = j * g.StrideW - g.PadW + kw * g.DilW;
                                        if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) continue;
                                        int xi = ((n * g.CIn + grp * cig + ci) * g.H + ih) * g.W + iw;
                                        int wi = ((co * cig + ci) * g.KH + kh) * g.KW + kw;
                                        s += (double)x[xi] * w[wi]; mag += Math.Abs((double)x[xi] * w[wi]);
                                        GradIn[xi] += go * w[wi]; GradInMag[xi] += Math.Abs(go * w[wi]);
                                        GradW[wi] += go * x[xi]; GradWMag[wi] += Math.Abs(go * x[xi]);
                                    }
                            Out[oi] = s; OutMag[oi] = mag;
                        }
                }
        }
    }

    private static void Check(Conv2dGeometry g, bool withBias, int threads, int seed = 7)
    {
        var x = Random((int)g.InputLength, seed);
        var w = Random((int)g.WeightLength, seed + 1);
        var bias = withBias ? Random(g.COut, seed + 2) : null;
        var gy = Random((int)g.OutputLength, seed + 3);
        var r = new Reference(g, x, w, bias, gy);
        string what = $"{g} bias={withBias} t={threads}";

        WithThreads(threads, () =>
        {
            var y = new float[g.OutputLength];
            Array.Fill(y, float.NaN); // outputs must be fully overwritten
            Conv2dKernels.Forward(g, x, w, bias ?? ReadOnlySpan<float>.Empty, y);
            AssertClose(r.Out, y, 1e-4, 1e-5, r.OutMag, "forward " + what);

            var gx = new float[g.InputLength];
            Array.Fill(gx, float.NaN);
            Conv2dKernels.BackwardInput(g, gy, w, gx);
            AssertClose(r.GradIn, gx, 1e-4, 1e-5, r.GradInMag, "gradInput " + what);

            var gw = new float[g.WeightLength];
            Array.Fill(gw, float.NaN);
            var gb = withBias ? new float[g.COut] : null;
            if (gb != null) Array.Fill(gb, float.NaN);
            Conv2dKernels.BackwardWeight(g, x, gy, gw, gb ?? Span<float>.Empty);
            AssertClose(r.GradW, gw, 1e-4, 1e-5, r.GradWMag, "gradWeight " + what);

            // Accumulating into an existing gradient (autograd's path when .Grad exists): init + gradWeight.
            var acc = Random((int)g.WeightLength, seed + 4);
            var expected = new double[acc.Length];
            for (int i = 0; i < acc.Length; i++) expected[i] = acc[i] + r.GradW[i];
            Conv2dKernels.BackwardWeight(g, x, gy, acc, Span<float>.Empty, accumulate: true);
            AssertClose(expected, acc, 1e-4, 1e-5, r.GradWMag, "gradWeight accumulate " + what);
            if (gb != null) AssertClose(r.GradB, gb, 1e-4, 1e-4, default, "gradBias " + what);
        });
    }

    // (N, CIn, H, W, COut, KH, KW, sH, sW, pH, pW, dH, dW, groups)
    public static TheoryData<int[]> Geometries() => new()
    {
        new[] { 2, 3, 7, 7, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },    // 3×3 same padding
        new[] { 2, 3, 9, 8, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1 },    // stride 2, odd/even sizes
        new[] { 1, 2, 11, 10, 3, 3, 3, 1, 1, 2, 2, 2, 2, 1 },  // dilation 2
        new[] { 2, 4, 6, 7, 6, 3, 3, 1, 2, 1, 0, 1, 1, 2 },    // groups 2, asymmetric stride/padding
        new[] { 3, 6, 7, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6 },    // depthwise
        new[] { 2, 8, 9, 9, 8, 5, 5, 2, 2, 2, 2, 1, 1, 8 },    // depthwise 5×5 stride 2 (scalar path)
        new[] { 2, 5, 9, 11, 5, 3, 3, 2, 1, 1, 2, 1, 2, 5 },   // depthwise, vertical stride 2, dilated width (vector path)
        new[] { 2, 3, 4, 20, 3, 1, 3, 1, 1, 0, 1, 1, 1, 3 },   // depthwise 1×3, row wider than two vectors
        new[] { 2, 4, 8, 8, 8, 3, 3, 1, 1, 1, 1, 2, 1, 4 },    // depth multiplier 2 (COut = 2·CIn), dilation
        new[] { 2, 5, 6, 5, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1 },    // 1×1 pointwise (direct GEMM)
        new[] { 2, 6, 6, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1, 2 },    // grouped pointwise
        new[] { 2, 5, 7, 7, 3, 1, 1, 2, 2, 0, 0, 1, 1, 1 },    // 1×1 stride 2 (im2col path)
        new[] { 2, 3, 5, 6, 4, 1, 3, 1, 1, 0, 1, 1, 1, 1 },    // 1×3 kernel
        new[] { 1, 2, 5, 5, 2, 5, 5, 1, 1, 0, 0, 1, 1, 1 },    // kernel = input (1×1 output)
        new[] { 1, 1, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1 },    // 1×1 image, all-padding border
        new[] { 37, 3, 4, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   // tiny maps → several images per GEMM
        new[] { 19, 6, 2, 2, 4, 1, 1, 1, 1, 0, 0, 1, 1, 1 },   // pointwise with batched columns
        new[] { 16, 8, 8, 8, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // big enough for batch-parallel (2 chunks)
        new[] { 4, 12, 17, 17, 24, 3, 3, 2, 2, 1, 1, 1, 1, 3 },// grouped, threaded GEMM path
        new[] { 9, 5, 7, 11, 7, 3, 3, 2, 3, 1, 2, 2, 1, 1 },   // gathered im2col panels: stride 3 across, dilation 2 down, runs across images
        new[] { 40, 7, 2, 2, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // 2×2 maps (AlexNet's conv3-5, VGG's last block): 2-pixel runs, gathered
    };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void MatchesDirectReference(int[] p)
    {
        var g = new Conv2dGeometry(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13]);
        ForEachIsa(_ =>
        {
            Check(g, withBias: true, threads: 1);
            Check(g, withBias: false, threads: 2, seed: 11);
        });
    }

    /// <summary>Geometries of the direct, im2col-free forward (the weight gradient's direct path where it is supported too).</summary>
    public static TheoryData<int[]> DirectGeometries() => new()
    {
        new[] { 2, 3, 8, 8, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },    // 3×3 same, 5 channels (one zero-padded 6-row panel)
        new[] { 3, 5, 4, 16, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // 13 = 6+4+4(3) channels, tiles within one row
        new[] { 2, 4, 10, 8, 16, 3, 3, 1, 1, 2, 2, 2, 2, 1 },  // dilation 2, 16 = 6+6+4, tile spans two rows
        new[] { 2, 2, 12, 12, 9, 5, 5, 1, 1, 0, 0, 1, 1, 1 },  // 5×5 unpadded (k = 50: tap remainder of 2)
        new[] { 1, 64, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   // k = 576: two k blocks, one image over threads
        new[] { 5, 6, 4, 8, 7, 1, 1, 1, 1, 0, 0, 1, 1, 1 },    // pointwise
        new[] { 2, 3, 16, 16, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1 },  // stride 2: four phase planes per channel
        new[] { 2, 3, 32, 32, 8, 11, 11, 4, 4, 5, 5, 1, 1, 1 },// AlexNet's conv1: 11×11, stride 4
        new[] { 1, 2, 15, 16, 6, 3, 3, 2, 2, 2, 2, 2, 2, 1 },  // stride 2 and dilation 2
        new[] { 2, 3, 8, 16, 4, 3, 3, 1, 2, 1, 1, 1, 1, 1 },   // asymmetric stride
        new[] { 3, 3, 6, 8, 4, 3, 5, 1, 1, 1, 2, 1, 1, 1 },    // 3×5 kernel, asymmetric padding, 3 images on 2 threads
        new[] { 2, 3, 6, 8, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   // 48 pixels: one 32-pixel AVX-512 tile (two-row halves) + a 16-pixel tile
        new[] { 2, 4, 6, 16, 11, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // width 16: contiguous 16-pixel zmm loads, 6+4(+1) channel panels
        // The forward's compact layout (stride 1, width not a multiple of the vector tile's row run):
        new[] { 3, 8, 4, 4, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1 },   // VGG's 4×4 maps: groups of 2 (AVX-512) images, one short group
        new[] { 9, 5, 2, 2, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1 },    // 2×2 maps: groups of 8 (4 with AVX2), 9 images on 2 threads
        new[] { 2, 70, 8, 8, 13, 3, 3, 1, 1, 1, 1, 1, 1, 1 },  // 8×8 (AVX-512: compact, one image per group), two k blocks
        new[] { 3, 3, 5, 7, 6, 3, 3, 1, 1, 1, 1, 2, 2, 1 },    // dilation 2: 3×5 output, 15 pixels per image
        new[] { 2, 6, 4, 4, 9, 5, 5, 1, 1, 2, 2, 1, 1, 1 },    // AlexNet-like 5×5 on 4×4, padding 2
        new[] { 3, 3, 6, 6, 5, 3, 5, 1, 1, 1, 2, 1, 1, 1 },    // 3×5 kernel, asymmetric padding, width 6
        new[] { 1, 4, 1, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1 },    // 1×1 image, one image in a group of 32 (16)
    };

    [Theory]
    [MemberData(nameof(DirectGeometries))]
    public void DirectAndIm2ColPathsMatchReference(int[] p)
    {
        var g = new Conv2dGeometry(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13]);
        // The direct path needs AVX2 (absent on the CPU, or capped off with SP_MAX_ISA=portable).
        if (KernelIsa.UseAvx2) Assert.True(DirectConv.SupportedForward(g), g.ToString());
        foreach (bool direct in new[] { true, false })
        {
            DirectConv.Force = direct;
            try
            {
                ForEachIsa(_ =>
                {
                    Check(g, withBias: true, threads: 1);
                    Check(g, withBias: false, threads: 2, seed: 11);
                });
            }
            finally { DirectConv.Force = null; }
        }
    }

    /// <summary>Stride-1 geometries whose input gradient can run as a forward convolution with flipped weights.</summary>
    public static TheoryData<int[]> InputGradGeometries() => new()
    {
        new[] { 2, 6, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1 },     // CIn > COut, odd map (im2col forward of the flip)
        new[] { 3, 4, 6, 7, 9, 5, 5, 1, 1, 2, 1, 1, 1, 1 },     // CIn < COut, 5×5, asymmetric padding
        new[] { 2, 5, 9, 8, 5, 3, 3, 1, 1, 0, 2, 2, 1, 1 },     // dilation 2 vertically, no vertical padding
        new[] { 37, 8, 2, 2, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1 },    // VGG's 2×2 maps: several images per chunk, threads
        new[] { 2, 8, 8, 8, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1 },     // direct kernels for the flipped geometry
        new[] { 1, 192, 2, 2, 192, 3, 3, 1, 1, 1, 1, 1, 1, 1 }, // weights ≥ 2^18 floats: threaded flip
    };

    [Theory]
    [MemberData(nameof(InputGradGeometries))]
    public void InputGradientAsForwardAndCol2ImMatchReference(int[] p)
    {
        var g = new Conv2dGeometry(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13]);
        Assert.True(Conv2dKernels.InputGradGeometry(g, out _), g.ToString());
        foreach (bool asForward in new[] { true, false })
        {
            Conv2dKernels.InputGradAsForward = asForward;
            try
            {
                ForEachIsa(_ => Check(g, withBias: false, threads: 2, seed: 5));
                Gemm.ForcePortable = true;
                try { Check(g, withBias: true, threads: 1); }
                finally { Gemm.ForcePortable = false; }
            }
            finally { Conv2dKernels.InputGradAsForward = null; }
        }
    }

    [Fact]
    public unsafe void WeightGradientPartialSumsAddInOrderOnEveryThreadCount()
    {
        // Large enough for the threaded split (≥ 2^17), odd length for a short last block.
        const int len = (1 << 18) + 37;
        var partials = new[] { Random(len, 1), Random(len, 2), Random(len, 3) };
        var init = Random(len, 4);
        var expected = new float[len];
        for (int i = 0; i < len; i++) expected[i] = ((init[i] + partials[0][i]) + partials[1][i]) + partials[2][i];
        foreach (int threads in new[] { 1, 2 })
            WithThreads(threads, () =>
            {
                var dst = (float[])init.Clone();
                fixed (float* d = dst) Conv2dKernels.AddPartials(d, partials, len);
                Assert.Equal(expected, dst); // bit for bit: the same additions in the same order
            });
    }

    [Fact]
    public void PortablePathsMatchReference()
    {
        // Non-AVX fallbacks: portable GEMM tile, scalar im2col packing, scalar depthwise.
        Gemm.ForcePortable = true;
        try
        {
            foreach (var p in new[]
            {
                new[] { 2, 3, 7, 6, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },
                new[] { 2, 4, 6, 7, 6, 3, 3, 2, 1, 1, 0, 1, 2, 2 },
                new[] { 3, 6, 7, 9, 6, 3, 3, 1, 1, 1, 1, 1, 1, 6 },
                new[] { 5, 3, 4, 4, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1 },
            })
                Check(new Conv2dGeometry(p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11], p[12], p[13]),
                    withBias: true, threads: 2);
        }
        finally { Gemm.ForcePortable = false; }
    }

    [Fact]
    public void OutputSizeMatchesPyTorchFormula()
    {
        var g = new Conv2dGeometry(1, 1, 32, 31, 1, 3, 4, 2, 3, 1, 2, 2, 1, 1);
        Assert.Equal((32 + 2 - 2 * 2 - 1) / 2 + 1, g.OutH);
        Assert.Equal((31 + 4 - 1 * 3 - 1) / 3 + 1, g.OutW);
        Assert.Throws<ArgumentException>(() => Conv2dKernels.Forward(new Conv2dGeometry(1, 3, 4, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1, 2),
            new float[48], new float[100], ReadOnlySpan<float>.Empty, new float[64]));
    }

    [Fact]
    public void Im2ColAdjoint()
    {
        // <im2col(x), y> == <x, col2im(y)> for an awkward geometry.
        int c = 3, h = 7, w = 6, kh = 3, kw = 2, sh = 2, sw = 1, ph = 1, pw = 1, dh = 2, dw = 3;
        int oh = Im2Col.OutputSize(h, kh, sh, ph, dh), ow = Im2Col.OutputSize(w, kw, sw, pw, dw);
        int ld = oh * ow + 3;
        var x = Random(c * h * w, 1);
        var col = new float[c * kh * kw * ld];
        Im2Col.ToColumns(x, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, col, ld);
        var y = Random(col.Length, 2);
        var back = new float[x.Length];
        Im2Col.AddFromColumns(y, ld, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw, back);
        double lhs = 0, rhs = 0;
        for (int r = 0; r < c * kh * kw; r++)
            for (int s = 0; s < oh * ow; s++) lhs += (double)col[r * ld + s] * y[r * ld + s];
        for (int i = 0; i < x.Length; i++) rhs += (double)x[i] * back[i];
        Assert.True(Math.Abs(lhs - rhs) < 1e-4 * (Math.Abs(lhs) + 1), $"{lhs} vs {rhs}");
        // Spot-check one entry: channel 1, kh=2, kw=1 at output (1, 2).
        int ih = 1 * sh - ph + 2 * dh, iw = 2 * sw - pw + 1 * dw;
        Assert.Equal(x[(1 * h + ih) * w + iw], col[((1 * kh + 2) * kw + 1) * ld + 1 * ow + 2]);
    }
}
