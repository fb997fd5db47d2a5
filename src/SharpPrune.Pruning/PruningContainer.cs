namespace SharpPrune.Pruning;

/// <summary>
/// The history of an iteratively pruned parameter (PyTorch's <c>PruningContainer</c>): <see cref="Apply"/> turns
/// the hook into a container on the second pruning of the same tensor. Its mask is the latest method's mask
/// computed on the part of the tensor the earlier masks left, as PyTorch's <c>_combine_masks</c>:
/// unstructured methods see the flattened entries where the mask is 1, structured methods the channels along
/// their dim that are not entirely pruned, global methods the whole tensor.
/// </summary>
public sealed class PruningContainer : BasePruningMethod
{
    private readonly List<BasePruningMethod> _methods = new();

    /// <summary>A container over <paramref name="methods"/>, which must all prune the same tensor name.</summary>
    public PruningContainer(params BasePruningMethod[] methods)
    {
        if (methods.Length > 0) TensorName = methods[0].TensorName;
        foreach (var m in methods) Add(m);
    }

    /// <summary>The methods applied so far, oldest first.</summary>
    public IReadOnlyList<BasePruningMethod> Methods => _methods;

    public int Count => _methods.Count;
    public BasePruningMethod this[int index] => _methods[index];

    /// <summary>The type of the latest method (a container has none of its own).</summary>
    public override PruningType PruningType =>
        _methods.Count > 0 ? _methods[^1].PruningType : throw new InvalidOperationException("empty PruningContainer has no pruning type");

    public override int? Dim => _methods.Count > 0 ? _methods[^1].Dim : null;

    /// <summary>Appends a method; it must act on this container's tensor name (an empty, unnamed container adopts it).</summary>
    public void Add(BasePruningMethod method)
    {
        ArgumentNullException.ThrowIfNull(method);
        if (method is PruningContainer)
            throw new ArgumentException("a PruningContainer cannot be added to a PruningContainer; add its methods instead");
        if (_methods.Count == 0 && TensorName == null) TensorName = method.TensorName;
        if (TensorName != method.TensorName)
            throw new ArgumentException(
                $"Can only add pruning methods acting on the parameter named '{TensorName}' to PruningContainer {this}. Found '{method.TensorName}'");
        _methods.Add(method);
    }

    /// <summary>The latest method's mask combined with <paramref name="defaultMask"/> (the earlier methods' mask).</summary>
    public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        if (_methods.Count == 0) throw new InvalidOperationException("PruningContainer is empty: there is no method to compute a mask with");
        return CombineMasks(_methods[^1], t, defaultMask);
    }

    /// <summary>PyTorch's <c>_combine_masks</c>: runs <paramref name="method"/> on the unpruned slice of <paramref name="t"/>.</summary>
    internal static Tensor CombineMasks(BasePruningMethod method, Tensor t, Tensor mask)
    {
        if (!Shapes.Equal(t.Shape, mask.Shape))
            throw new ArgumentException($"tensor of shape {Shapes.Format(t.Shape)} and mask of shape {Shapes.Format(mask.Shape)} differ");
        var newMask = mask.Clone();
        string what = method.GetType().Name + ".ComputeMask";
        switch (method.PruningType)
        {
            case PruningType.Unstructured:
            {
                var live = MaskIndexing.WhereOne(mask);
                var partial = method.ComputeMask(MaskIndexing.Gather(t, live), MaskIndexing.Gather(mask, live));
                PruningErrors.ValidateMaskShape(partial, new[] { live.Length }, what);
                MaskIndexing.Scatter(newMask, live, partial);
                return newMask;
            }
            case PruningType.Structured:
            {
                int dim = method.Dim ?? throw new InvalidOperationException(
                    "Pruning methods of PRUNING_TYPE \"structured\" need to have the attribute `dim` defined.");
                PruningErrors.ValidateStructured(t);
                if (dim < 0) dim += t.Dim;
                if (dim < 0 || dim >= t.Dim)
                    throw new ArgumentOutOfRangeException($"Index is out of bounds for tensor with dimensions {t.Dim}", (Exception?)null);
                var keep = MaskIndexing.ChannelsNotAllZero(mask, dim);
                var tSub = MaskIndexing.SelectChannels(t, dim, keep);
                var partial = method.ComputeMask(tSub, MaskIndexing.SelectChannels(mask, dim, keep));
                PruningErrors.ValidateMaskShape(partial, tSub.Shape, what);
                MaskIndexing.ScatterChannels(newMask, dim, keep, partial);
                return newMask;
            }
            case PruningType.Global:
            {
                var partial = method.ComputeMask(t, mask);
                PruningErrors.ValidateMaskShape(partial, t.Shape, what);
                return partial;
            }
            default:
                throw new ArgumentException($"Unrecognized PRUNING_TYPE {method.PruningType}");
        }
    }

    public override string ToString() => "PruningContainer([" + string.Join(", ", _methods) + "])";
}
