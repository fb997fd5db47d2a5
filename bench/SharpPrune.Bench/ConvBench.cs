using System.Diagnostics;
using SharpPrune.Autograd;
using SharpPrune.Kernels;
using SharpPrune.NN;

namespace SharpPrune.Bench;

/// <summary>
/// Conv2d shapes of the benchmark models in isolation (--convs), forward and forward+backward GFLOP/s, so kernel
/// work can be tracked per shape against torch_bench.py --convs (same shapes, same protocol: best of 3 trials).
/// </summary>
public static class ConvBench
{
    /// <summary>(label, N, Cin, H, W, Cout, k, stride, pad, input needs grad) — mirrored in torch_bench.py.</summary>
    public static readonly (string Label, int N, int C, int H, int W, int O, int K, int S, int P, bool Gx)[] Shapes =
    {
        ("lenet5.conv2", 128, 6, 12, 12, 16, 5, 1, 0, true),
        ("alexnet.conv2", 128, 64, 4, 4, 192, 5, 1, 2, true),
        ("vgg16.c64@32", 64, 64, 32, 32, 64, 3, 1, 1, true),
        ("vgg16.c256@8", 64, 256, 8, 8, 256, 3, 1, 1, true),
        ("vgg16.c512@2", 64, 512, 2, 2, 512, 3, 1, 1, true),
        ("resnet56.c16@32", 64, 16, 32, 32, 16, 3, 1, 1, true),
        ("resnet56.c32@16", 64, 32, 16, 16, 32, 3, 1, 1, true),
        ("resnet56.c64@8", 64, 64, 8, 8, 64, 3, 1, 1, true),
    };

    public static IEnumerable<Dictionary<string, object>> Run(int threads)
    {
        Parallelism.MaxThreads = threads;
        // SP_DIRECT_CONV=0/1 forces the im2col-GEMM / direct stride-1 kernels, to compare the two per shape.
        if (Environment.GetEnvironmentVariable("SP_DIRECT_CONV") is "0" or "1")
            DirectConv.Force = Environment.GetEnvironmentVariable("SP_DIRECT_CONV") == "1";
        // SP_INPUT_GRAD_AS_FORWARD=0/1 forces the stride-1 input gradient through GEMM + col2im / the flipped forward.
        if (Environment.GetEnvironmentVariable("SP_INPUT_GRAD_AS_FORWARD") is "0" or "1")
            Conv2dKernels.InputGradAsForward = Environment.GetEnvironmentVariable("SP_INPUT_GRAD_AS_FORWARD") == "1";
        var gen = new Generator(3);
        foreach (var s in Shapes)
        {
            var x = Tensor.Randn(gen, s.N, s.C, s.H, s.W);
            if (s.Gx) x.RequiresGrad_();
            var w = Tensor.Randn(gen, s.O, s.C, s.K, s.K).RequiresGrad_();
            int oh = (s.H + 2 * s.P - s.K) / s.S + 1, ow = (s.W + 2 * s.P - s.K) / s.S + 1;
            var go = Tensor.Randn(gen, s.N, s.O, oh, ow);
            double flops = 2.0 * s.N * s.O * oh * ow * s.C * s.K * s.K;
            double fwd = BestOf3(() =>
            {
                using var _ = GradMode.NoGrad();
                F.Conv2d(x, w, null, (s.S, s.S), (s.P, s.P));
            });
            double train = BestOf3(() =>
            {
                x.Grad = null; w.Grad = null;
                F.Conv2d(x, w, null, (s.S, s.S), (s.P, s.P)).Backward(go);
            });
            double trainFlops = flops * (s.Gx ? 3 : 2);
            // The two backward kernels alone (no autograd), to see which pass a change moved.
            var geo = new Conv2dGeometry(s.N, s.C, s.H, s.W, s.O, s.K, s.K, s.S, s.S, s.P, s.P, 1, 1, 1);
            var gi = new float[geo.InputLength];
            var gwk = new float[geo.WeightLength];
            var yk = new float[geo.OutputLength];
            double fwdK = BestOf3(() => Conv2dKernels.Forward(geo, x.Data, w.Data, ReadOnlySpan<float>.Empty, yk));
            double bwdIn = BestOf3(() => Conv2dKernels.BackwardInput(geo, go.Data, w.Data, gi));
            double bwdW = BestOf3(() => Conv2dKernels.BackwardWeight(geo, x.Data, go.Data, gwk, Span<float>.Empty));
            yield return new Dictionary<string, object>
            {
                ["impl"] = "sharpprune", ["conv"] = s.Label, ["threads"] = threads,
                ["fwd_ms"] = Math.Round(fwd * 1e3, 3), ["fwd_gflops"] = Math.Round(flops / fwd / 1e9, 1),
                ["fwd_bwd_ms"] = Math.Round(train * 1e3, 3), ["fwd_bwd_gflops"] = Math.Round(trainFlops / train / 1e9, 1),
                ["fwd_kernel_ms"] = Math.Round(fwdK * 1e3, 3), ["bwd_input_ms"] = Math.Round(bwdIn * 1e3, 3), ["bwd_weight_ms"] = Math.Round(bwdW * 1e3, 3),
            };
        }
    }

    // Same protocol as GemmBench.Measure / torch_bench.best_of_3: ≥0.15 s and ≥3 calls warm-up, best of 3 trials.
    private static double BestOf3(Action once, double targetSeconds = 0.5)
    {
        var sw = Stopwatch.StartNew();
        int warm = 0;
        while (sw.Elapsed.TotalSeconds < 0.15 || warm < 3) { once(); warm++; }
        int reps = (int)Math.Clamp(targetSeconds / 3 / (sw.Elapsed.TotalSeconds / warm), 1, 100_000);
        double best = double.MaxValue;
        for (int t = 0; t < 3; t++)
        {
            sw.Restart();
            for (int r = 0; r < reps; r++) once();
            best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
        }
        return best;
    }
}
