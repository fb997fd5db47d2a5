namespace SharpPrune.Pruning;

/// <summary>
/// Prunes with a mask computed elsewhere (PyTorch's <c>prune.CustomFromMask</c>), multiplied into the existing
/// mask. Also what <c>Prune.GlobalUnstructured</c> and <see cref="PrunedStateDict"/> install on each tensor.
/// </summary>
public class CustomFromMask : BasePruningMethod
{
    public Tensor Mask { get; }

    public CustomFromMask(Tensor mask)
    {
        ArgumentNullException.ThrowIfNull(mask);
        Mask = mask.Detach().Clone();
    }

    public override PruningType PruningType => PruningType.Global;

    public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        if (!Shapes.Equal(defaultMask.Shape, Mask.Shape))
            throw new ArgumentException(
                $"CustomFromMask: the mask has shape {Shapes.Format(Mask.Shape)} but the tensor{(TensorName != null ? $" '{TensorName}'" : "")} has shape {Shapes.Format(defaultMask.Shape)}");
        return MaskIndexing.Multiply(defaultMask, Mask);
    }

    public override string ToString() => $"CustomFromMask(shape={Shapes.Format(Mask.Shape)})";
}
