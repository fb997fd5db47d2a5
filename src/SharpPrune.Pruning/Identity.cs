namespace SharpPrune.Pruning;

/// <summary>Prunes nothing: sets up the reparametrisation with a mask of ones (PyTorch's <c>prune.Identity</c>).</summary>
public class Identity : BasePruningMethod
{
    public override PruningType PruningType => PruningType.Unstructured;

    public override Tensor ComputeMask(Tensor t, Tensor defaultMask) => defaultMask.Clone();

    public override string ToString() => "Identity()";
}
