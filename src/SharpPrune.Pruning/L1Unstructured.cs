namespace SharpPrune.Pruning;

/// <summary>
/// Zeroes the <see cref="Amount"/> entries of smallest magnitude (PyTorch's <c>prune.L1Unstructured</c>).
/// Among equal magnitudes the lowest flat index is pruned first; PyTorch's <c>topk</c> leaves that order
/// unspecified, so masks agree with PyTorch exactly whenever the cut does not fall inside a tie.
/// </summary>
public class L1Unstructured : BasePruningMethod
{
    public Amount Amount { get; }

    public L1Unstructured(Amount amount) => Amount = amount.Validate();

    public override PruningType PruningType => PruningType.Unstructured;

    public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        int k = Amount.CountFor(t.Numel);
        var mask = defaultMask.Clone();
        if (k != 0)
        {
            var d = mask.Data;
            var magnitudes = t.ToArray();
            for (int i = 0; i < magnitudes.Length; i++) magnitudes[i] = Math.Abs(magnitudes[i]);
            foreach (var i in Selection.Smallest(magnitudes, k)) d[i] = 0f;
        }
        return mask;
    }

    public override string ToString() => $"L1Unstructured(amount={Amount})";
}
