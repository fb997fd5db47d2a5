namespace SharpPrune.Pruning;

/// <summary>Argument checks shared by the pruning methods, with PyTorch's messages.</summary>
internal static class PruningErrors
{
    /// <summary>PyTorch's <c>_validate_structured_pruning</c>: channels only exist in tensors of 2+ dims.</summary>
    public static void ValidateStructured(Tensor t)
    {
        if (t.Dim <= 1)
            throw new ArgumentException(
                $"Structured pruning can only be applied to multidimensional tensors. Found tensor of shape {Shapes.Format(t.Shape)} with {t.Dim} dims");
    }

    /// <summary>PyTorch's <c>_validate_pruning_dim</c>, also refusing too-negative dims; returns the dim made non-negative.</summary>
    public static int ValidateDim(Tensor t, int dim)
    {
        if (dim >= t.Dim || dim < -t.Dim)
            throw new ArgumentOutOfRangeException($"Invalid index {dim} for tensor of size {Shapes.Format(t.Shape)}", (Exception?)null);
        return dim < 0 ? dim + t.Dim : dim;
    }

    public static void ValidateMaskShape(Tensor mask, IReadOnlyList<int> expected, string what)
    {
        if (!Shapes.Equal(mask.Shape, expected))
            throw new InvalidOperationException(
                $"{what} returned a mask of shape {Shapes.Format(mask.Shape)}, expected {Shapes.Format(expected)}");
    }
}
