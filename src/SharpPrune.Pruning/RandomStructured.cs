namespace SharpPrune.Pruning;

/// <summary>
/// Zeroes <see cref="Amount"/> whole channels along <see cref="Dim"/>, chosen at random (PyTorch's
/// <c>prune.RandomStructured</c>): each channel draws a uniform number and the smallest draws are pruned.
/// Reproducible through <see cref="Generator"/>, but not PyTorch's exact choice (different generator).
/// </summary>
public class RandomStructured : StructuredPruningMethod
{
    public Generator Generator { get; }

    public RandomStructured(Amount amount, int dim = -1, Generator? generator = null) : base(amount, dim)
    {
        Generator = generator ?? Generator.Default;
    }

    protected override IEnumerable<int> KeptChannels(Tensor t, int dim, int channels, int pruneCount)
    {
        var prob = Tensor.Rand(Generator, channels);
        var pruned = Selection.Smallest(prob.Data, pruneCount).ToHashSet();
        return Enumerable.Range(0, channels).Where(c => !pruned.Contains(c));
    }

    public override string ToString() => $"RandomStructured(amount={Amount}, dim={Dim})";
}
