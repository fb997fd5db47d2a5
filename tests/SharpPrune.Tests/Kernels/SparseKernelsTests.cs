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

    private static void ForEachIsaAndThreads(Action<string> action) =>
        KernelTestUtil.ForEveryIsaAndThreadCount((isa, threads) => action($"{isa} threads {threads}"));

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

    /// <summary>A rows × cols matrix at <paramref name="density"/>, with row 0 full and row 2 empty when there are enough rows.</summary>
    private static float[] MixedRows(int rows, int cols, double density, int seed)
    {
        var rng = new Random(seed);
        var d = new float[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
            {
                bool keep = rows > 3 && r == 0 || !(rows > 3 && r == 2) && rng.NextDouble() < density;
                if (keep) d[r * cols + c] = (float)(rng.NextDouble() * 2 - 1);
            }
        return d;
    }

    /// <summary>
    /// The batch-1 product (the panel layout on AVX-512, the CSR dot products on AVX2 and portable) against a
    /// double-precision dense product, with and without the fused ReLU: densities 0 to 100%, full and empty rows,
    /// row counts around multiples of 16 and column counts around multiples of 32, one thread and two (the panel
    /// product split by slices: its serial threshold set to 0).
    /// </summary>
    [Fact]
    public void BatchOneProductMatchesTheDenseProductForEveryShapeDensityAndIsa()
    {
        long savedSlots = SparseKernels.PanelSerialSlots;
        SparseKernels.PanelSerialSlots = 0;
        try
        {
            int seed = 10;
            foreach (int outF in new[] { 1, 15, 16, 17, 33, 300 })
                foreach (int inF in new[] { 1, 31, 32, 33, 100, 784 })
                    foreach (double density in new[] { 0.0, 0.02, 0.08, 0.4, 1.0 })
                    {
                        var dense = MixedRows(outF, inF, density, seed++);
                        var a = CsrMatrix.FromDense(dense, outF, inF);
                        var bias = KernelTestUtil.Random(outF, seed);
                        var x = KernelTestUtil.Random(inF, seed + 1);
                        var expected = Reference(dense, outF, inF, x, 1, 1, bias);
                        var expectedRelu = expected.Select(v => Math.Max(v, 0)).ToArray();
                        // Relative to the sum of the terms' magnitudes: the summation orders differ.
                        var magnitude = new double[outF];
                        for (int r = 0; r < outF; r++)
                            for (int c = 0; c < inF; c++) magnitude[r] += Math.Abs((double)dense[r * inF + c] * x[c]);
                        ForEachIsaAndThreads(what =>
                        {
                            foreach (bool relu in new[] { false, true })
                            {
                                var y = new float[outF];
                                SparseKernels.LinearForward(a, x, 1, y, bias, relu);
                                KernelTestUtil.AssertClose(relu ? expectedRelu : expected, y, 1e-5, 1e-6, magnitude,
                                    $"{what} {outF}x{inF} density {density} relu {relu}");
                            }
                        });
                    }
        }
        finally { SparseKernels.PanelSerialSlots = savedSlots; }
    }

    [Fact]
    public void BatchOneProductOfAnEmptyMatrixIsTheBias()
    {
        var bias = new float[] { 1f, -2f, 3f };
        ForEachIsaAndThreads(what =>
        {
            foreach (int inF in new[] { 0, 40 })
            {
                var a = CsrMatrix.FromDense(new float[3 * inF], 3, inF);
                var y = new float[3];
                SparseKernels.LinearForward(a, new float[inF], 1, y, bias);
                Assert.Equal(bias, y);
                SparseKernels.LinearForward(a, new float[inF], 1, y, bias, relu: true);
                Assert.Equal(new[] { 1f, 0f, 3f }, y);
                SparseKernels.LinearForward(a, new float[inF], 1, y);
                Assert.Equal(new float[3], y);
            }
            SparseKernels.LinearForward(CsrMatrix.FromDense([], 0, 7), new float[7], 1, []); // no rows: nothing to do
        });
    }

    /// <summary>
    /// inf and NaN in x: an output whose row has no weight on that column stays finite (padding lanes would give
    /// 0·inf = NaN, so the panel path hands such inputs to the CSR kernel), and every output matches what the CSR
    /// kernel gives on the AVX2 path: the same inf or NaN, or a finite value within rounding.
    /// </summary>
    [Fact]
    public void NonFiniteInputsGiveTheCsrResults()
    {
        const int outF = 40, inF = 100;
        var dense = MixedRows(outF, inF, 0.1, 77);
        for (int r = 0; r < outF; r++)
        {
            dense[r * inF + 50] = r % 2 == 0 ? 0f : 0.5f; // column 50: weights in odd rows only
            dense[r * inF + 97] = 0f;                     // column 97: none
        }
        var a = CsrMatrix.FromDense(dense, outF, inF);
        var bias = KernelTestUtil.Random(outF, 78);
        foreach (float bad in new[] { float.PositiveInfinity, float.NegativeInfinity, float.NaN })
            foreach (int at in new[] { 50, 97 }) // in the vector loop and in the scalar tail of the check
            {
                var x = KernelTestUtil.Random(inF, 79);
                x[at] = bad;
                var csr = new float[outF];
                Gemm.MaxIsa = CpuIsa.Avx2;
                try { SparseKernels.LinearForward(a, x, 1, csr, bias); }
                finally { Gemm.MaxIsa = null; }
                ForEachIsaAndThreads(what =>
                {
                    var y = new float[outF];
                    SparseKernels.LinearForward(a, x, 1, y, bias);
                    for (int r = 0; r < outF; r++)
                    {
                        bool even = r % 2 == 0 || at == 97;
                        Assert.True(float.IsFinite(y[r]) == even, $"{what} x[{at}]={bad} row {r}: got {y[r]}");
                        if (even) Assert.True(MathF.Abs(y[r] - csr[r]) <= 1e-5f * (1 + MathF.Abs(csr[r])), $"{what} row {r}: csr {csr[r]}, got {y[r]}");
                        else Assert.Equal(csr[r], y[r]); // the same inf, or NaN (xunit's float equality takes NaN = NaN)
                    }
                });
            }
    }

    /// <summary>The layout's levels: per (slice, panel) the most non-zeros any of the 16 rows has in the panel.</summary>
    [Fact]
    public void PanelLayoutStoresOneLevelPerNonZeroOfTheFullestRow()
    {
        // 20 rows × 70 columns (slices of 16 and 4 rows, panels of 32, 32 and 6 columns). Row r holds r % 5 + 1
        // non-zeros in panel 0, row 0 one in panel 2; panel 1 is empty.
        var d = new float[20 * 70];
        for (int r = 0; r < 20; r++) for (int k = 0; k <= r % 5; k++) d[r * 70 + 3 * k] = r + 1;
        d[65] = 9f;
        var a = CsrMatrix.FromDense(d, 20, 70);
        var ell = a.PanelEll!;
        Assert.Same(ell, a.PanelEll);
        Assert.Equal((2, 3), (ell.Slices, ell.Panels));
        Assert.Equal(5 + 1 + 5, ell.Levels); // slice 0: 5 levels in panel 0, 1 in panel 2; slice 1: 5 in panel 0
        Assert.Equal(16.0 * 11 / a.NonZeros, ell.PaddingRatio, 12);
        Assert.Equal(0, ell.BalancedSliceStart(0, 2));
        Assert.Equal(2, ell.BalancedSliceStart(2, 2));
    }

    /// <summary>
    /// A large matrix so sparse that most levels hold one non-zero (4096×4096, 4 per row: ~15x padded, ~1.3 MiB)
    /// keeps the CSR kernel; a small one padded past 4x (256×256, 2 per row) still gets the layout. Both give the dense product.
    /// </summary>
    [Fact]
    public void HeavilyPaddedLargeMatricesKeepTheCsrKernel()
    {
        foreach (int n in new[] { 4096, 256 })
        {
            var rng = new Random(5);
            var rowPtr = new int[n + 1];
            var cols = new List<int>();
            for (int r = 0; r < n; r++)
            {
                cols.AddRange(Enumerable.Range(0, n).OrderBy(_ => rng.Next()).Take(n == 4096 ? 4 : 2).Order());
                rowPtr[r + 1] = cols.Count;
            }
            var values = cols.Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
            var a = new CsrMatrix(n, n, rowPtr, cols.ToArray(), values);
            if (n == 4096) Assert.Null(a.PanelEll);
            else Assert.True(a.PanelEll!.PaddingRatio > PanelEll.MaxPaddingRatio);
            var x = KernelTestUtil.Random(n, 6);
            var expected = new double[n];
            var colIdx = a.ColIdx;
            for (int r = 0; r < n; r++) for (int p = rowPtr[r]; p < rowPtr[r + 1]; p++) expected[r] += (double)values[p] * x[colIdx[p]];
            ForEachIsaAndThreads(what =>
            {
                var y = new float[n];
                SparseKernels.LinearForward(a, x, 1, y);
                KernelTestUtil.AssertClose(expected, y, 1e-5, 1e-5, default, $"{what} {n}x{n}");
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
