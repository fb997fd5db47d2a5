namespace SharpPrune.Kernels;

/// <summary>
/// When a pruned layer runs faster sparse than dense: the crossover density as a function of the columns each
/// non-zero is applied to (batch for Linear, batch × output pixels for convolutions), measured with
/// <c>bench/SharpPrune.Bench -- --sparse-crossover</c> (the table and the machine are in bench/README.md and
/// bench/results/). The dense GEMM reaches ~40 GMAC/s per core on wide products while the sparse kernel streams
/// one broadcast-and-FMA per non-zero and 64 columns (~15-20 GMAC/s), so the wider the product, the lower the
/// density at which sparse still wins. Narrow products are the other way round: a dense convolution over a 2×2 or
/// 4×4 map at batch 1, or a Linear at batch 1, is bound by reading its weights, and sparse reads fewer bytes.
/// </summary>
public static class SparseCrossover
{
    /// <summary>Column counts that start each bucket's range: [1], [2-8], [9-64], [65-512], [513-4096], [more].</summary>
    private static readonly long[] BucketTops = [1, 8, 64, 512, 4096, long.MaxValue];

    /// <summary>Densities below which a Linear is faster sparse, per bucket of input rows.</summary>
    /// <remarks>
    /// 2026-12-01 (2-core AVX-512 Xeon, 2 threads, shared machine; bench/results/2026-12-01-sparse-crossover.txt):
    /// 4096×4096 at batch 1 crossed at ~0.37, 784×300 at ~0.25; at batch 128 ~0.5 and ~0.4. The 2-64 row buckets
    /// were not measured and are interpolated.
    /// <para/>
    /// Re-measured 2026-12-06 (AMD EPYC Zen 5, 2 threads, bench/results/2026-12-06-sparse-crossover-zen5.txt): at batch
    /// 128 both shapes cross at ~0.4 (0.94-0.97x at 0.4, 1.2-1.35x at 0.3), hence 0.35 from 65 rows up. At batch 1 the
    /// AVX-512 panel kernel (<see cref="PanelEll"/>) beat the dense product at every density up to 1.0 (2.3-2.6x at
    /// 0.5): see <see cref="PanelBatch1Threshold"/>; the CSR kernel that AVX2 runs still crosses at ~0.3-0.4.
    /// </remarks>
    internal static double[] LinearThresholds = [0.30, 0.30, 0.35, 0.35, 0.35, 0.35];

    /// <summary>
    /// The batch-1 Linear threshold where the AVX-512 panel kernel runs. Sparse won at every density measured, but a
    /// layer kept sparse for batch 1 and dense for batches also holds the sparse copy (values, indices and the
    /// panel layout: more bytes than the dense weight from about half density), so half density is where it stops.
    /// </summary>
    internal const double PanelBatch1Threshold = 0.5;

    /// <summary>Densities below which a convolution is faster sparse, per bucket of output columns (batch × OH × OW).</summary>
    /// <remarks>
    /// Same run: AlexNet's conv4 (2×2 map) at batch 1 ran 1.5x faster sparse even fully dense, conv2 (4×4) crossed
    /// at ~0.75; at batch 128 (512 and 2048 columns) ~0.35-0.4; a 64-channel 3×3 conv on a 32×32 map crossed at
    /// ~0.35-0.4 at batch 1 (1024 columns) and ~0.13 at batch 16 (16,384 columns). With small maps unfolded from
    /// an offset table, AlexNet's conv2-5 at batch 128 (2048 and 512 columns, 35-38% dense) ran 1.1-1.4x faster
    /// sparse (per-layer profile, 2 threads), hence 0.45 and 0.40 for those buckets.
    /// Re-measured on the quiet machine (bench/results/2026-12-01-4bc02dc-sparse-crossover-quiet.txt, load &lt; 2):
    /// conv4 at batch 128 (512 columns) crosses at ~0.4, conv2 at batch 128 (2048) and the 64-channel conv at
    /// batch 1 (1024) both at ~0.3 (38% dense conv2 ran 0.88x sparse), the 16,384-column case at ~0.2: 0.40 and 0.32.
    /// <para/>
    /// Re-measured 2026-12-06 on Zen 5 with today's faster dense convolutions (same file as the Linear remark): conv4
    /// at batch 128 (512 columns) now crosses at ~0.3 (0.85x at 0.4), hence 0.30; the 64-channel 32×32 conv at batch
    /// 1 (1024 columns) at ~0.1 (0.68x at 0.2, 0.52x at 0.3), while conv2 at batch 128 (2048 columns, same bucket)
    /// still crosses at ~0.33. The bucket takes the lower, 0.12: a wrong sparse choice there cost up to 2x, a wrong
    /// dense one gives up at most ~1.5x.
    /// </remarks>
    internal static double[] ConvThresholds = [0.90, 0.90, 0.60, 0.30, 0.12, 0.12];

    /// <summary>
    /// A batched sparse Linear transposes its input and output (in + out values per row) around the sparse product;
    /// below this many non-zeros per transposed value that overhead outweighs the saving (AlexNet's fc3, 4096→10 at
    /// 25%, ran 2x slower sparse at batch 128; LeNet-300-100's fc2, 300→100 at 8%, 1.8x faster).
    /// </summary>
    internal const double NonZerosPerTransposedValue = 4;

    /// <summary>True when a Linear weight (out × in) of this density is faster sparse for <paramref name="rows"/> input rows.</summary>
    public static bool LinearPrefersSparse(double density, long rows, int inFeatures, int outFeatures)
    {
        double threshold = rows <= 1 && KernelIsa.UseAvx512 ? PanelBatch1Threshold : LinearThresholds[Bucket(rows)];
        if (density >= threshold) return false;
        return rows <= 1 || density * inFeatures * outFeatures >= NonZerosPerTransposedValue * (inFeatures + (double)outFeatures);
    }

    /// <summary>True when a convolution weight of this density is faster sparse for <paramref name="columns"/> output positions (batch × OH × OW).</summary>
    public static bool ConvPrefersSparse(double density, long columns) => density < ConvThresholds[Bucket(columns)];

    /// <summary>Whether some batch size would run this Linear sparse / dense (whether to keep each form).</summary>
    public static (bool Sparse, bool Dense) LinearChoices(double density, int inFeatures, int outFeatures) =>
        (BucketTops.Any(n => LinearPrefersSparse(density, n, inFeatures, outFeatures)),
         BucketTops.Any(n => !LinearPrefersSparse(density, n, inFeatures, outFeatures)));

    /// <summary>Whether some input size would run this convolution sparse / dense.</summary>
    public static (bool Sparse, bool Dense) ConvChoices(double density) =>
        (BucketTops.Any(n => ConvPrefersSparse(density, n)), BucketTops.Any(n => !ConvPrefersSparse(density, n)));

    private static int Bucket(long n)
    {
        int b = 0;
        while (n > BucketTops[b]) b++;
        return b;
    }
}
