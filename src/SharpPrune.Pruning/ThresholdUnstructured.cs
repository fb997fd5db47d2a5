namespace SharpPrune.Pruning;

/// <summary>
/// Han et al. 2015 ("Learning both Weights and Connections"): zeroes every entry whose magnitude is below
/// <c>quality × std</c>, the standard deviation being that of the entries it sees (population std, as
/// <c>numpy.std</c>). How many entries go therefore depends on the layer's weight distribution, not on a fixed
/// rate: quality 0.7 removes about 45% of a Gaussian layer, 1.0 about 68%.
/// On a tensor pruned before, the method sees only the surviving entries (PyTorch's container semantics), so the
/// std is that of the survivors.
/// </summary>
public class ThresholdUnstructured : BasePruningMethod
{
    /// <summary>The multiple of the standard deviation below which magnitudes are pruned (≥ 0).</summary>
    public double Quality { get; }

    public ThresholdUnstructured(double quality)
    {
        if (!(quality >= 0) || !double.IsFinite(quality))
            throw new ArgumentException($"quality={quality} must be a finite number >= 0 (the threshold is quality x std of the layer's weights)");
        Quality = quality;
    }

    public override PruningType PruningType => PruningType.Unstructured;

    /// <summary>The magnitude below which entries of <paramref name="t"/> are pruned: quality × std(t).</summary>
    public double ThresholdFor(Tensor t) => Quality * StandardDeviation(t.Data);

    public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        var mask = defaultMask.Clone();
        if (t.Numel == 0) return mask;
        double threshold = ThresholdFor(t);
        var values = t.Data;
        var d = mask.Data;
        for (int i = 0; i < values.Length; i++)
            if (Math.Abs((double)values[i]) < threshold) d[i] = 0f;
        return mask;
    }

    /// <summary>Population standard deviation in double precision (two passes: mean, then squared deviations).</summary>
    internal static double StandardDeviation(ReadOnlySpan<float> x)
    {
        if (x.Length == 0) return 0;
        double sum = 0;
        foreach (var v in x) sum += v;
        double mean = sum / x.Length, sq = 0;
        foreach (var v in x) { double d = v - mean; sq += d * d; }
        return Math.Sqrt(sq / x.Length);
    }

    public override string ToString() => $"ThresholdUnstructured(quality={Quality.ToString(System.Globalization.CultureInfo.InvariantCulture)})";
}
