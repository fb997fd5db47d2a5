namespace SharpPrune.Pruning;

/// <summary>
/// How a pruning method acts on a tensor; it decides which slice of an already-pruned tensor a new method sees
/// when masks are combined (PyTorch's <c>PRUNING_TYPE</c>).
/// </summary>
public enum PruningType
{
    /// <summary>Acts on single entries: a follow-up method sees only the entries still unpruned (mask == 1), flattened.</summary>
    Unstructured,

    /// <summary>Acts on whole channels along <see cref="BasePruningMethod.Dim"/>: a follow-up method sees the channels not entirely pruned.</summary>
    Structured,

    /// <summary>Acts on the whole tensor at once (e.g. a mask computed elsewhere): a follow-up method sees everything.</summary>
    Global,
}
