namespace SharpPrune.Pruning;

/// <summary>
/// Zeroes <see cref="Amount"/> entries chosen at random (PyTorch's <c>prune.RandomUnstructured</c>): each entry
/// draws a uniform number and the largest draws are pruned. Draws come from <see cref="Generator"/>
/// (<see cref="SharpPrune.Generator.Default"/> unless given), so masks are reproducible here but cannot equal
/// PyTorch's, whose generator differs; only the count and placement rules match.
/// </summary>
public class RandomUnstructured : BasePruningMethod
{
    public Amount Amount { get; }
    public Generator Generator { get; }

    public RandomUnstructured(Amount amount, Generator? generator = null)
    {
        Amount = amount.Validate();
        Generator = generator ?? Generator.Default;
    }

    public override PruningType PruningType => PruningType.Unstructured;

    public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        int k = Amount.CountFor(t.Numel);
        var mask = defaultMask.Clone();
        if (k != 0)
        {
            var prob = Tensor.Rand(Generator, t.ShapeCopy());
            var d = mask.Data;
            foreach (var i in Selection.Largest(prob.Data, k)) d[i] = 0f;
        }
        return mask;
    }

    public override string ToString() => $"RandomUnstructured(amount={Amount})";
}
