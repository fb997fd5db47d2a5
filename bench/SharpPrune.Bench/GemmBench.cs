using System.Diagnostics;
using SharpPrune.Kernels;

namespace SharpPrune.Bench;

/// <summary>Square SGEMM throughput: warm-up, then timed repetitions sized to ~0.5 s per matrix size.</summary>
public static class GemmBench
{
    public static IEnumerable<(int n, double gflops)> Run(int[] sizes, int threads)
    {
        int saved = Parallelism.MaxThreads;
        Parallelism.MaxThreads = Math.Max(1, threads);
        // SP_GEMM_KC / _MC / _NC: try other cache blockings without rebuilding.
        if (int.TryParse(Environment.GetEnvironmentVariable("SP_GEMM_KC"), out int kc)) Gemm.KC = kc;
        if (int.TryParse(Environment.GetEnvironmentVariable("SP_GEMM_MC"), out int mc)) Gemm.MC = mc;
        if (int.TryParse(Environment.GetEnvironmentVariable("SP_GEMM_NC"), out int nc)) Gemm.NC = nc;
        try
        {
            foreach (int n in sizes)
                yield return (n, Measure(n, n, n, false, false));
        }
        finally
        {
            Parallelism.MaxThreads = saved;
        }
    }

    /// <summary>Best-of-3 GFLOP/s of one Sgemm shape with the current <see cref="Parallelism.MaxThreads"/>.</summary>
    public static double Measure(int m, int n, int k, bool transA, bool transB, double targetSeconds = 0.5)
    {
        var rng = new Random(42);
        float[] a = new float[(long)m * k], b = new float[(long)k * n], c = new float[(long)m * n];
        for (int i = 0; i < a.Length; i++) a[i] = (float)rng.NextDouble() - 0.5f;
        for (int i = 0; i < b.Length; i++) b[i] = (float)rng.NextDouble() - 0.5f;
        int lda = transA ? m : k, ldb = transB ? k : n;
        void Once() => Gemm.Sgemm(transA, transB, m, n, k, 1f, a, lda, b, ldb, 0f, c, n);

        // Warm-up also lets tiered JIT promote the kernels.
        var sw = Stopwatch.StartNew();
        int warm = 0;
        while (sw.Elapsed.TotalSeconds < 0.15 || warm < 3) { Once(); warm++; }
        double perCall = sw.Elapsed.TotalSeconds / warm;
        int reps = (int)Math.Clamp(targetSeconds / 3 / perCall, 1, 100_000);

        double best = double.MaxValue;
        for (int trial = 0; trial < 3; trial++)
        {
            sw.Restart();
            for (int r = 0; r < reps; r++) Once();
            best = Math.Min(best, sw.Elapsed.TotalSeconds / reps);
        }
        return 2.0 * m * n * k / best / 1e9;
    }
}
