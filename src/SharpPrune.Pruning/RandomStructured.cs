namespace SharpPrune.Pruning;

/// <summary>
/// Zeroes <see cref="Amount"/> whole channels along <see cref="Dim"/>, chosen at random (PyTorch's
/// <c>prune.RandomStructured</c>): each channel draws a uniform number and the smallest draws are pruned.
/// Reproducible through <see cref="Generator"/>, but not PyTorch's exact choice (different generator).
/// </summary>
public class RandomStructured : BasePruningMethod
{
    private readonly int _dim;

    public Amount Amount { get; }
    public Generator Generator { get; }
    public override int? Dim => _dim;

    public RandomStructured(Amount amount, int dim = -1, Generator? generator = null)
    {
        Amount = amount.Validate();
        _dim = dim;
        Generator = generator ?? Generator.Default;
    }

    public override PruningType PruningType => PruningType.Structured;

    public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        PruningErrors.ValidateStructured(t);
        int dim = PruningErrors.ValidateDim(t, _dim);
        int channels = t.Shape[dim];
        int k = Amount.CountFor(channels);
        if (k == 0) return defaultMask.Clone();
        var prob = Tensor.Rand(Generator, channels);
        var pruned = Selection.Smallest(prob.Data, k).ToHashSet();
        var mask = MaskIndexing.ChannelMask(t.Shape, dim, Enumerable.Range(0, channels).Where(c => !pruned.Contains(c)));
        return MaskIndexing.Multiply(mask, defaultMask);
    }

    public override string ToString() => $"RandomStructured(amount={Amount}, dim={_dim})";
}
