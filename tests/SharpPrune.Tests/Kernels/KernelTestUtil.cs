using Xunit.Sdk;

namespace SharpPrune.Tests.Kernels;

internal static class KernelTestUtil
{
    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var x = new float[length];
        for (int i = 0; i < x.Length; i++) x[i] = ((float)rng.NextDouble() * 2f - 1f) * scale;
        return x;
    }

    /// <summary>|actual − expected| ≤ rtol·(|expected| + magnitude) + atol, where magnitude bounds the terms summed.</summary>
    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double rtol = 1e-4,
        double atol = 1e-5, ReadOnlySpan<double> magnitude = default, string what = "")
    {
        Assert.True(actual.Length >= expected.Length, $"{what}: length {actual.Length} < {expected.Length}");
        for (int i = 0; i < expected.Length; i++)
        {
            double mag = Math.Abs(expected[i]) + (magnitude.IsEmpty ? 0 : magnitude[i]);
            double err = Math.Abs(actual[i] - expected[i]);
            if (!(err <= rtol * mag + atol))
                throw new XunitException($"{what}: mismatch at {i}: expected {expected[i]}, got {actual[i]} (err {err:E2}, tol {rtol * mag + atol:E2})");
        }
    }

    public static void AssertClose(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, double rtol = 1e-4,
        double atol = 1e-5, string what = "")
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        AssertClose(e, actual, rtol, atol, default, what);
    }

    /// <summary>Runs <paramref name="action"/> with Parallelism.MaxThreads temporarily set.</summary>
    public static void WithThreads(int threads, Action action)
    {
        int saved = SharpPrune.Kernels.Parallelism.MaxThreads;
        SharpPrune.Kernels.Parallelism.MaxThreads = threads;
        try { action(); }
        finally { SharpPrune.Kernels.Parallelism.MaxThreads = saved; }
    }

    /// <summary>The SIMD paths this machine can run (AVX2 and AVX-512 where the CPU has them; the portable path
    /// has tests of its own). Empty on a CPU without AVX2.</summary>
    public static IEnumerable<SharpPrune.Kernels.CpuIsa> VectorIsas()
    {
        for (var isa = SharpPrune.Kernels.CpuIsa.Avx2; isa <= SharpPrune.Kernels.KernelIsa.Hardware; isa++) yield return isa;
    }

    /// <summary>Every ISA path this machine can run, the portable one first.</summary>
    public static IEnumerable<SharpPrune.Kernels.CpuIsa> AllIsas()
    {
        for (var isa = SharpPrune.Kernels.CpuIsa.Portable; isa <= SharpPrune.Kernels.KernelIsa.Hardware; isa++) yield return isa;
    }

    /// <summary>Runs <paramref name="action"/>(isa, threads) on every ISA path including the portable one, each on 1
    /// and 2 threads (capped as in <see cref="ForEachIsa"/>).</summary>
    public static void ForEveryIsaAndThreadCount(Action<SharpPrune.Kernels.CpuIsa, int> action)
    {
        foreach (var isa in AllIsas())
            foreach (int threads in new[] { 1, 2 })
            {
                SharpPrune.Kernels.Gemm.MaxIsa = isa;
                try { WithThreads(threads, () => action(isa, threads)); }
                finally { SharpPrune.Kernels.Gemm.MaxIsa = null; }
            }
    }

    /// <summary>Runs <paramref name="action"/> once per ISA path including the portable one, capped as in <see cref="ForEachIsa"/>.</summary>
    public static void ForEveryIsa(Action<SharpPrune.Kernels.CpuIsa> action)
    {
        foreach (var isa in AllIsas())
        {
            SharpPrune.Kernels.Gemm.MaxIsa = isa;
            try { action(isa); }
            finally { SharpPrune.Kernels.Gemm.MaxIsa = null; }
        }
    }

    /// <summary>Runs <paramref name="action"/> once per vector ISA path, the kernels capped to it on this thread
    /// (and, through Parallelism, on its workers).</summary>
    public static void ForEachIsa(Action<SharpPrune.Kernels.CpuIsa> action)
    {
        foreach (var isa in VectorIsas())
        {
            SharpPrune.Kernels.Gemm.MaxIsa = isa;
            try { action(isa); }
            finally { SharpPrune.Kernels.Gemm.MaxIsa = null; }
        }
    }
}

/// <summary>Kernel tests flip process-wide switches (thread cap, portable path): run them one class at a time.</summary>
[CollectionDefinition("Kernels", DisableParallelization = true)]
public sealed class KernelsCollection { }
