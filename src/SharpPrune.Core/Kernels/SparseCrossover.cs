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
    internal static double[] LinearThresholds = [0.45, 0.30, 0.15, 0.10, 0.08];
    internal static double[] ConvThresholds = [0.40, 0.30, 0.20, 0.15, 0.12];

    /// <summary>True when a Linear weight of this density is faster sparse for <paramref name="rows"/> input rows.</summary>
    public static bool LinearPrefersSparse(double density, long rows) => density < LinearThresholds[Bucket(rows)];

    /// <summary>True when a convolution weight of this density is faster sparse for <paramref name="columns"/> output positions (batch × OH × OW).</summary>
    public static bool ConvPrefersSparse(double density, long columns) => density < ConvThresholds[Bucket(columns)];

    private static int Bucket(long n) => n <= 1 ? 0 : n <= 8 ? 1 : n <= 64 ? 2 : n <= 512 ? 3 : 4;
}
