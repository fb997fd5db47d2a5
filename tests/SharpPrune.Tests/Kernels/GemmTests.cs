using SharpPrune.Kernels;
using static SharpPrune.Tests.Kernels.KernelTestUtil;

namespace SharpPrune.Tests.Kernels;

[Collection("Kernels")]
public class GemmTests
{
    /// <summary>Naive double-precision reference; also returns Σ|terms| per element for the tolerance.</summary>
    internal static (double[] c, double[] mag) Reference(bool ta, bool tb, int m, int n, int k, float alpha,
        float[] a, int lda, float[] b, int ldb, float beta, float[] c0, int ldc)
    {
        var c = new double[m * ldc];
        var mag = new double[m * ldc];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < ldc; j++)
            {
                int idx = i * ldc + j;
                if (j >= n) { c[idx] = c0[idx]; continue; }
                double s = 0, sa = 0;
                for (int p = 0; p < k; p++)
                {
                    double av = ta ? a[p * lda + i] : a[i * lda + p];
                    double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
                    s += av * bv; sa += Math.Abs(av * bv);
                }
                double prev = beta == 0f ? 0 : (double)beta * c0[idx];
                c[idx] = alpha * s + prev;
                mag[idx] = Math.Abs(alpha) * sa + Math.Abs(prev);
            }
        return (c, mag);
    }

    private static void Check(bool ta, bool tb, int m, int n, int k, float alpha, float beta, int pad, int threads, int seed = 1)
    {
        int lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
        var a = Random(Math.Max(1, (ta ? k : m) * lda), seed);
        var b = Random(Math.Max(1, (tb ? n : k) * ldb), seed + 1);
        var c = Random(m * ldc, seed + 2);
        var (expected, mag) = Reference(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        Gemm.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, threads);
        AssertClose(expected, c, 1e-4, 1e-6, mag, $"ta={ta} tb={tb} m={m} n={n} k={k} α={alpha} β={beta} pad={pad} t={threads}");
    }

    public static TheoryData<int, int, int> Shapes()
    {
        var d = new TheoryData<int, int, int>();
        int[] sizes = { 1, 3, 7, 17, 33, 65, 129 };
        foreach (int m in sizes)
            foreach (int n in sizes)
                d.Add(m, n, sizes[(m * 7 + n * 3) % sizes.Length]); // vary k without the full cube
        d.Add(6, 16, 256); d.Add(12, 32, 300); d.Add(5, 200, 9); d.Add(200, 5, 9); d.Add(150, 40, 260);
        return d;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void AllTransposeCombinations(int m, int n, int k)
    {
        // Every shape through both the packed and the direct kernels, whatever the size heuristics pick.
        foreach (bool? force in new bool?[] { null, false, true })
        {
            Gemm.ForceSmall = force;
            try
            {
                ForEachIsa(_ =>
                {
                    foreach (bool ta in new[] { false, true })
                        foreach (bool tb in new[] { false, true })
                            Check(ta, tb, m, n, k, 1f, 0f, 0, threads: 1);
                });
            }
            finally { Gemm.ForceSmall = null; }
        }
    }

    [Theory]
    [InlineData(1f, 0f)]
    [InlineData(1f, 1f)]
    [InlineData(-0.5f, 2f)]
    [InlineData(2f, -1f)]
    [InlineData(0.25f, 0.5f)]
    public void AlphaBetaAndLeadingDimensions(float alpha, float beta)
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (3, 40, 7), (17, 33, 65), (65, 17, 129), (129, 65, 33), (7, 300, 100) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    foreach (bool small in new[] { false, true })
                    {
                        Gemm.ForceSmall = small;
                        try
                        {
                            ForEachIsa(_ =>
                            {
                                Check(ta, tb, m, n, k, alpha, beta, pad: 0, threads: 1);
                                Check(ta, tb, m, n, k, alpha, beta, pad: 5, threads: 2);
                            });
                        }
                        finally { Gemm.ForceSmall = null; }
                    }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void LargeThreaded(int threads)
    {
        // Above the parallel threshold, with edge tiles in every dimension and k spanning several KC blocks.
        ForEachIsa(_ =>
        {
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                    Check(ta, tb, 131, 150, 300, 1f, 0.5f, pad: 3, threads, seed: threads);
            Check(false, false, 3, 1500, 300, 1f, 0f, 0, threads);  // skinny: direct kernel split over n
            Check(false, true, 700, 2, 300, 1f, 0f, 0, threads);    // skinny: direct kernel split over m
            Check(true, false, 300, 7, 120, 1f, 1f, 0, threads);
        });
    }

    [Fact]
    public void EveryRowAndColumnEdgeOfTheRegisterTiles()
    {
        // Every row count 1-25 (the 12×32 tile's row edges 7-11 and the 6×32 tile's 1-6) against column
        // counts that end on, inside and past the 16- and 32-wide tiles, overwriting and accumulating.
        Gemm.ForceSmall = false;
        try
        {
            ForEachIsa(_ =>
            {
                for (int m = 1; m <= 25; m++)
                    foreach (int n in new[] { 16, 20, 31, 32, 47, 64, 77 })
                    {
                        Check(false, false, m, n, 19, 1f, 0f, 0, threads: 1);
                        Check(false, false, m, n, 19, 0.5f, 1f, 3, threads: 1);
                    }
            });
        }
        finally { Gemm.ForceSmall = null; }
    }

    [Fact]
    public void BlockingBoundaries()
    {
        // Exactly at and around MC/KC/NC multiples.
        ForEachIsa(_ =>
        {
            foreach (var (m, n, k) in new[] { (144, 16, 256), (145, 17, 257), (288, 17, 512), (6, 3072 + 16, 40), (13, 3073, 20),
                (12, 32, 7), (24, 64, 300), (18, 48, 33), (96, 96, 96), (78, 200, 513) })
                Check(false, false, m, n, k, 1f, 0f, 0, threads: 1);
        });
    }

    [Fact]
    public void BetaZeroIgnoresNaNInC()
    {
        foreach (var (m, n, k) in new[] { (2, 3, 4), (50, 70, 90), (130, 140, 150) })
            foreach (bool ta in new[] { false, true })
                foreach (bool tb in new[] { false, true })
                {
                    var a = Random(m * k, 1); var b = Random(k * n, 2);
                    var c = new float[m * n];
                    Array.Fill(c, float.NaN);
                    Gemm.Sgemm(ta, tb, m, n, k, 1f, a, ta ? m : k, b, tb ? k : n, 0f, c, n);
                    Assert.DoesNotContain(c, float.IsNaN);
                }
    }

    [Fact]
    public void DegenerateSizes()
    {
        var c = new float[] { float.NaN, 2f, 3f, 4f };
        Gemm.Sgemm(false, false, 2, 2, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, 0f, c, 2);
        Assert.Equal(new float[] { 0, 0, 0, 0 }, c);
        c = new float[] { 1f, 2f, 3f, 4f };
        Gemm.Sgemm(false, false, 2, 2, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 2, 2f, c, 2);
        Assert.Equal(new float[] { 2, 4, 6, 8 }, c);
        Gemm.Sgemm(false, false, 0, 5, 3, 1f, ReadOnlySpan<float>.Empty, 3, new float[15], 5, 0f, Span<float>.Empty, 5);
        Assert.Throws<ArgumentException>(() => Gemm.Sgemm(false, false, 2, 2, 2, 1f, new float[3], 2, new float[4], 2, 0f, new float[4], 2));
    }

    [Fact]
    public void IsaCapFollowsTheThreadAndItsWorkers()
    {
        Assert.Equal(KernelIsa.ProcessCap, KernelIsa.Active);
        Gemm.MaxIsa = CpuIsa.Portable;
        try
        {
            Assert.Equal(CpuIsa.Portable, KernelIsa.Active);
            Assert.True(Gemm.ForcePortable);
            var seen = new CpuIsa[4];
            WithThreads(2, () => Parallelism.For(0, 4, i => seen[i] = KernelIsa.Active));
            Assert.All(seen, s => Assert.Equal(CpuIsa.Portable, s));
        }
        finally { Gemm.MaxIsa = null; }
        Assert.Equal(KernelIsa.ProcessCap, KernelIsa.Active);
        Assert.Equal(CpuIsa.Avx2 <= KernelIsa.Hardware ? CpuIsa.Avx2 : KernelIsa.Hardware, KernelIsa.ParseCap(" AVX2 "));
        Assert.Equal(CpuIsa.Portable, KernelIsa.ParseCap("portable"));
        Assert.Equal(KernelIsa.Hardware, KernelIsa.ParseCap(null));
        var e = Assert.Throws<InvalidOperationException>(() => KernelIsa.ParseCap("sse9"));
        Assert.Contains("SP_MAX_ISA='sse9'", e.Message);
    }

    [Fact]
    public void PortablePathMatchesReference()
    {
        Gemm.ForcePortable = true;
        try
        {
            foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 17, 33), (65, 33, 129), (130, 70, 300) })
                foreach (bool ta in new[] { false, true })
                    foreach (bool tb in new[] { false, true })
                        Check(ta, tb, m, n, k, 1.5f, 0.5f, 2, threads: 2);
        }
        finally { Gemm.ForcePortable = false; }
    }
}
