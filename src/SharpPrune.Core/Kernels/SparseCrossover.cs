namespace SharpPrune.Kernels;

/// <summary>
/// When a pruned layer runs faster sparse than dense: the crossover density as a function of the columns each
/// non-zero is applied to (batch for Linear, batch × output pixels for convolutions). Measured with
/// <c>bench/SharpPrune.Bench -- --sparse-crossover</c> (bench/README.md has the table and the machine): the dense
/// GEMM reaches ~70-80 GFLOP/s on wide products while the sparse kernels stream one AXPY (or a gather-dot) per
/// non-zero, so the wider the product, the lower the density at which sparse still wins. For one column (batch-1
/// Linear) the dense product is a memory-bound matrix-vector product, so sparse wins up to about half density.
/// </summary>
public static class SparseCrossover
{
    /// <summary>Densities below which sparse is faster, for [1, 2-8, 9-64, 65-512, more] columns.</summary>
    /// <remarks>
    /// Quiet-machine run of 2026-12-01 (2-core AVX-512 Xeon, 2 threads): convolutions with more than 512 output
    /// columns (AlexNet's 8×8 and 4×4 layers at batch 128) ran 0.26–0.43x of dense even at 2–10% density, so they
    /// stay dense. The Linear crossover at 65-512 rows depends on the shape, not only the rows: LeNet-300-100 at 8%
    /// and batch 128 ran 0.92x of dense, AlexNet's fc layers (9% and 5%) helped it to 1.08x; left as it was. The
    /// other buckets are from earlier, noisier runs.
    /// </remarks>
    internal static double[] LinearThresholds = [0.45, 0.30, 0.15, 0.10, 0.08];
    internal static double[] ConvThresholds = [0.40, 0.30, 0.20, 0.15, 0.0];

    /// <summary>True when a Linear weight of this density is faster sparse for <paramref name="rows"/> input rows.</summary>
    public static bool LinearPrefersSparse(double density, long rows) => density < LinearThresholds[Bucket(rows)];

    /// <summary>True when a convolution weight of this density is faster sparse for <paramref name="columns"/> output positions (batch × OH × OW).</summary>
    public static bool ConvPrefersSparse(double density, long columns) => density < ConvThresholds[Bucket(columns)];

    private static int Bucket(long n) => n <= 1 ? 0 : n <= 8 ? 1 : n <= 64 ? 2 : n <= 512 ? 3 : 4;
}
