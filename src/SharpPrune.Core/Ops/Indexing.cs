using SharpPrune.Autograd;
using SharpPrune.Kernels;

namespace SharpPrune;

public sealed partial class Tensor
{
    /// <summary>
    /// PyTorch's <c>torch.take</c>: the entries of this tensor (read flat) at <paramref name="index"/>, in
    /// <paramref name="index"/>'s shape. The indices are a float tensor holding whole numbers (SharpPrune tensors are
    /// float32; exact below 2^24). Backward scatter-adds the gradient: an entry's gradient is the sum of the
    /// gradients of every output that read it — weight sharing's centroid update.
    /// </summary>
    public Tensor Take(Tensor index)
    {
        ArgumentNullException.ThrowIfNull(index);
        var flat = ToIndices(index.Data, Numel);
        var o = Empty(index.ShapeCopy());
        GatherKernels.Gather(Data, flat, o.Data);
        var shape = _shape;
        return Record(o, "TakeBackward", new[] { this }, g =>
        {
            var gi = Zeros(shape);
            GatherKernels.ScatterAdd(g.Data, flat, gi.Data);
            return new Tensor?[] { gi };
        }, Saved.None);
    }

    /// <summary>Float index values as ints, each checked to be a whole number in [0, <paramref name="size"/>).</summary>
    public static int[] ToIndices(ReadOnlySpan<float> values, int size)
    {
        var idx = new int[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (!(v >= 0 && v < size) || v != MathF.Floor(v))
                throw new IndexOutOfRangeException($"take: index {v} at position {i} is out of range for a tensor of {size} elements");
            idx[i] = (int)v;
        }
        return idx;
    }
}
