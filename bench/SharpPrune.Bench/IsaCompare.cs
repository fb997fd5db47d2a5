using System.Diagnostics;
using SharpPrune.Kernels;

namespace SharpPrune.Bench;

/// <summary>
/// --isa-compare: single-threaded GFLOP/s of square SGEMM and of the models' convolution kernels (forward,
/// input gradient, weight gradient) on each vector ISA this CPU has (AVX2, AVX-512; capped by SP_MAX_ISA). The
/// ISAs are interleaved round by round and timed by process CPU time, best round kept, so the comparison holds on
/// a loaded machine where wall-clock time does not.
/// </summary>
public static class IsaCompare
{
    public static IEnumerable<Dictionary<string, object>> Run(int[] gemmSizes, int rounds = 5)
    {
        int saved = Parallelism.MaxThreads;
        Parallelism.MaxThreads = 1;
        try
        {
            foreach (int n in gemmSizes)
            {
                var rng = new Random(42);
                float[] a = new float[(long)n * n], b = new float[(long)n * n], c = new float[(long)n * n];
                for (int i = 0; i < a.Length; i++) { a[i] = (float)rng.NextDouble() - 0.5f; b[i] = (float)rng.NextDouble() - 0.5f; }
                foreach (var r in Compare($"sgemm n={n}", 2.0 * n * n * n, rounds,
                    () => Gemm.Sgemm(false, false, n, n, n, 1f, a, n, b, n, 0f, c, n, 1)))
                    yield return r;
            }
            foreach (var s in ConvBench.Shapes)
            {
                var g = new Conv2dGeometry(s.N, s.C, s.H, s.W, s.O, s.K, s.K, s.S, s.S, s.P, s.P, 1, 1, 1);
                var rng = new Random(1);
                float[] x = Fill(g.InputLength, rng), w = Fill(g.WeightLength, rng), go = Fill(g.OutputLength, rng);
                float[] y = new float[g.OutputLength], gi = new float[g.InputLength], gw = new float[g.WeightLength];
                double flops = 2.0 * g.N * g.COut * g.OutH * g.OutW * g.CIn * g.KH * g.KW;
                foreach (var r in Compare(s.Label + " fwd", flops, rounds,
                    () => Conv2dKernels.Forward(g, x, w, ReadOnlySpan<float>.Empty, y))) yield return r;
                foreach (var r in Compare(s.Label + " bwd-input", flops, rounds,
                    () => Conv2dKernels.BackwardInput(g, go, w, gi))) yield return r;
                foreach (var r in Compare(s.Label + " bwd-weight", flops, rounds,
                    () => Conv2dKernels.BackwardWeight(g, x, go, gw, Span<float>.Empty))) yield return r;
            }
        }
        finally { Parallelism.MaxThreads = saved; }
    }

    private static float[] Fill(long length, Random rng)
    {
        var a = new float[length];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        return a;
    }

    /// <summary>Best CPU seconds per call of <paramref name="once"/> on each ISA, interleaved.</summary>
    private static IEnumerable<Dictionary<string, object>> Compare(string what, double flops, int rounds, Action once)
    {
        var isas = new List<CpuIsa>();
        for (var isa = CpuIsa.Avx2; isa <= KernelIsa.ProcessCap; isa++) isas.Add(isa);
        var proc = Process.GetCurrentProcess();
        var best = isas.ToDictionary(i => i, _ => double.MaxValue);
        // ~0.05 s of arithmetic per timed batch at 100 GFLOP/s: far above the 10 ms CPU-time tick... ×5 for safety.
        int reps = Math.Max(1, (int)(2.5e10 / flops));
        for (int round = 0; round < rounds; round++)
            foreach (var isa in isas)
            {
                Gemm.MaxIsa = isa;
                try
                {
                    if (round == 0) for (int w = 0; w < 3; w++) once(); // tiered JIT, scratch growth
                    proc.Refresh();
                    var t0 = proc.TotalProcessorTime;
                    for (int r = 0; r < reps; r++) once();
                    proc.Refresh();
                    double s = (proc.TotalProcessorTime - t0).TotalSeconds / reps;
                    if (s > 0) best[isa] = Math.Min(best[isa], s);
                }
                finally { Gemm.MaxIsa = null; }
            }
        foreach (var isa in isas)
            yield return new Dictionary<string, object>
            {
                ["impl"] = "sharpprune", ["what"] = what, ["threads"] = 1, ["isa"] = isa.ToString(), ["rounds"] = rounds,
                ["gflops_cpu"] = Math.Round(flops / best[isa] / 1e9, 1),
            };
    }
}
