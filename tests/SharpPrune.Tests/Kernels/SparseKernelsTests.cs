using SharpPrune.Kernels;

namespace SharpPrune.Tests.Kernels;

/// <summary>
/// The CSR kernels against a double-precision dense product, on every ISA path (portable, AVX2, AVX-512 where the
/// CPU has them), for widths that hit each register block (64/32/16/8/4/1 columns and their tails), 16-bit and
/// 32-bit column indices, empty rows, with and without bias, on one and two threads.
/// </summary>
[Collection("Kernels")]
public class SparseKernelsTests
{
    private static (CsrMatrix A, float[] Dense) RandomCsr(int rows, int cols, double density, int seed)
    {
        var rng = new Random(seed);
        var d = new float[rows * cols];
        for (int i = 0; i < d.Length; i++)
            if (i / cols != 1 && rng.NextDouble() < density) d[i] = (float)(rng.NextDouble() * 2 - 1); // row 1 empty
        return (CsrMatrix.FromDense(d, rows, cols), d);
    }

    private static double[] Reference(float[] a, int rows, int k, float[] b, int ldb, int n, float[]? bias)
    {
        var c = new double[rows * n];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < n; j++)
            {
                double s = bias?[r] ?? 0;
                for (int q = 0; q < k; q++) s += (double)a[r * k + q] * b[q * ldb + j];
                c[r * n + j] = s;
            }
        return c;
    }

    private static IEnumerable<CpuIsa> AllIsas() => new[] { CpuIsa.Portable }.Concat(KernelTestUtil.VectorIsas());

    private static void ForEachIsaAndThreads(Action<string> action)
    {
        foreach (var isa in AllIsas())
            foreach (int threads in new[] { 1, 2 })
            {
                Gemm.MaxIsa = isa;
                try { KernelTestUtil.WithThreads(threads, () => action($"{isa} threads {threads}")); }
                finally { Gemm.MaxIsa = null; }
            }
    }

    [Fact]
    public void SpmmMatchesTheDenseProductForEveryRegisterBlockAndIsa()
    {
        var (a, dense) = RandomCsr(37, 300, 0.3, 1);
        var bias = KernelTestUtil.Random(37, 2);
        ForEachIsaAndThreads(what =>
        {
            foreach (int n in new[] { 1, 3, 4, 7, 8, 13, 16, 29, 32, 47, 64, 65, 100, 130 })
            {
                int ldb = n + 3, ldc = n + 1;
                var b = KernelTestUtil.Random(300 * ldb, n);
                var c = new float[37 * ldc];
                SparseKernels.Spmm(a, b, ldb, n, c, ldc, n % 2 == 0 ? bias : default);
                var expected = Reference(dense, 37, 300, b, ldb, n, n % 2 == 0 ? bias : null);
                var packed = new float[37 * n];
                for (int r = 0; r < 37; r++) Array.Copy(c, r * ldc, packed, r * n, n);
                KernelTestUtil.AssertClose(expected, packed, 1e-5, 1e-5, default, $"{what} n={n}");
            }
        });
    }

    [Fact]
    public void LinearForwardMatchesTheDenseLinearAtBatchOneAndAbove()
    {
        // 16-bit indices (300 inputs) and 32-bit ones (70,000 inputs: more columns than a ushort can name).
        foreach (var (outF, inF, density) in new[] { (45, 300, 0.2), (5, 70_000, 0.002) })
        {
            var (a, dense) = RandomCsr(outF, inF, density, 3);
            var bias = KernelTestUtil.Random(outF, 4);
            ForEachIsaAndThreads(what =>
            {
                foreach (int rows in new[] { 1, 2, 5, 70 })
                {
                    var x = KernelTestUtil.Random(rows * inF, rows);
                    var y = new float[rows * outF];
                    SparseKernels.LinearForward(a, x, rows, y, bias);
                    // y = x·Aᵀ + b: the reference multiplies A by xᵀ
                    var xt = new float[inF * rows];
                    for (int s = 0; s < rows; s++) for (int i = 0; i < inF; i++) xt[i * rows + s] = x[s * inF + i];
                    var yt = Reference(dense, outF, inF, xt, rows, rows, bias);
                    var expected = new double[rows * outF];
                    for (int o = 0; o < outF; o++) for (int s = 0; s < rows; s++) expected[s * outF + o] = yt[o * rows + s];
                    KernelTestUtil.AssertClose(expected, y, 1e-5, 1e-5, default, $"{what} {outF}x{inF} rows={rows}");
                }
            });
        }
    }

    [Fact]
    public void RowsAreSplitIntoRangesOfAboutEqualNonZeros()
    {
        // 100 rows, row r holding r non-zeros: half the non-zeros lie in the last ~29 rows.
        var d = new float[100 * 100];
        for (int r = 0; r < 100; r++) for (int c = 0; c < r; c++) d[r * 100 + c] = 1f;
        var a = CsrMatrix.FromDense(d, 100, 100);
        Assert.Equal(0, a.BalancedRowStart(0, 2));
        int mid = a.BalancedRowStart(1, 2);
        Assert.InRange(a.RowPtr[mid], a.NonZeros / 2 - 100, a.NonZeros / 2 + 100);
        Assert.InRange(mid, 70, 72);
        Assert.Equal(100, a.BalancedRowStart(2, 2));
    }
}
