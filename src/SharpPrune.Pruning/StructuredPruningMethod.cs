namespace SharpPrune.Pruning;

/// <summary>
/// What every structured method shares (PyTorch's LnStructured and RandomStructured compute_mask): check the tensor
/// and the dim, turn the amount into a channel count, and mask whole channels along the dim on top of the existing
/// mask. A subclass only chooses which channels stay.
/// </summary>
public abstract class StructuredPruningMethod : BasePruningMethod
{
    private readonly int _dim;

    protected StructuredPruningMethod(Amount amount, int dim)
    {
        Amount = amount.Validate();
        _dim = dim;
    }

    public Amount Amount { get; }
    public override int? Dim => _dim;
    public override PruningType PruningType => PruningType.Structured;

    public sealed override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        PruningErrors.ValidateStructured(t);
        int dim = PruningErrors.ValidateDim(t, _dim);
        int channels = t.Shape[dim];
        int k = Amount.CountFor(channels);
        if (k == 0) return defaultMask.Clone();
        return MaskIndexing.Multiply(MaskIndexing.ChannelMask(t.Shape, dim, KeptChannels(t, dim, channels, k)), defaultMask);
    }

    /// <summary>The channels along <paramref name="dim"/> to keep when <paramref name="pruneCount"/> of the <paramref name="channels"/> go.</summary>
    protected abstract IEnumerable<int> KeptChannels(Tensor t, int dim, int channels, int pruneCount);
}
