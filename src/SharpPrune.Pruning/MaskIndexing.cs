namespace SharpPrune.Pruning;

/// <summary>
/// The indexing PyTorch's pruning does with boolean masks and index lists (<c>t[mask == 1]</c>,
/// <c>mask[:, keep] = 1</c>), on plain spans: masks carry no gradient, so none of this needs autograd.
/// </summary>
internal static class MaskIndexing
{
    /// <summary>Flat positions where <paramref name="mask"/> equals 1 (PyTorch's <c>mask == 1</c>).</summary>
    public static int[] WhereOne(Tensor mask)
    {
        var d = mask.Data;
        var idx = new List<int>(d.Length);
        for (int i = 0; i < d.Length; i++) if (d[i] == 1f) idx.Add(i);
        return idx.ToArray();
    }

    /// <summary><c>t.view(-1)[positions]</c> as a new 1-D tensor.</summary>
    public static Tensor Gather(Tensor t, int[] positions)
    {
        var src = t.Data;
        var o = new float[positions.Length];
        for (int i = 0; i < o.Length; i++) o[i] = src[positions[i]];
        return new Tensor(o, o.Length);
    }

    /// <summary><c>dst.view(-1)[positions] = values</c>.</summary>
    public static void Scatter(Tensor dst, int[] positions, Tensor values)
    {
        var v = values.Data; var d = dst.Data;
        for (int i = 0; i < positions.Length; i++) d[positions[i]] = v[i];
        dst.MarkChanged();
    }

    /// <summary>(outer, size, inner) so that element (a, c, b) of the dim split sits at (a * size + c) * inner + b.</summary>
    public static (int Outer, int Size, int Inner) Split(IReadOnlyList<int> shape, int dim)
    {
        int outer = 1; for (int i = 0; i < dim; i++) outer *= shape[i];
        int inner = 1; for (int i = dim + 1; i < shape.Count; i++) inner *= shape[i];
        return (outer, shape[dim], inner);
    }

    /// <summary>Channels along <paramref name="dim"/> with any non-zero entry (PyTorch: <c>mask.sum(other dims) != 0</c>).</summary>
    public static int[] ChannelsNotAllZero(Tensor mask, int dim)
    {
        var (outer, size, inner) = Split(mask.Shape, dim);
        var sums = new double[size];
        var d = mask.Data;
        for (int a = 0; a < outer; a++)
            for (int c = 0; c < size; c++)
                for (int b = 0; b < inner; b++) sums[c] += d[(a * size + c) * inner + b];
        return Enumerable.Range(0, size).Where(c => sums[c] != 0).ToArray();
    }

    /// <summary><c>t.index_select(dim, channels)</c> as a new tensor.</summary>
    public static Tensor SelectChannels(Tensor t, int dim, int[] channels)
    {
        var (outer, size, inner) = Split(t.Shape, dim);
        var shape = t.ShapeCopy(); shape[dim] = channels.Length;
        var o = Tensor.Zeros(shape);
        var s = t.Data; var od = o.Data;
        for (int a = 0; a < outer; a++)
            for (int j = 0; j < channels.Length; j++)
                s.Slice((a * size + channels[j]) * inner, inner).CopyTo(od.Slice((a * channels.Length + j) * inner, inner));
        return o;
    }

    /// <summary><c>dst.index_copy_(dim, channels, src)</c>.</summary>
    public static void ScatterChannels(Tensor dst, int dim, int[] channels, Tensor src)
    {
        var (outer, size, inner) = Split(dst.Shape, dim);
        var s = src.Data; var d = dst.Data;
        for (int a = 0; a < outer; a++)
            for (int j = 0; j < channels.Length; j++)
                s.Slice((a * channels.Length + j) * inner, inner).CopyTo(d.Slice((a * size + channels[j]) * inner, inner));
        dst.MarkChanged();
    }

    /// <summary>A mask of the tensor's shape: 1 on the given channels along <paramref name="dim"/>, 0 elsewhere.</summary>
    public static Tensor ChannelMask(IReadOnlyList<int> shape, int dim, IEnumerable<int> channels)
    {
        var mask = Tensor.Zeros(shape.ToArray());
        var (outer, size, inner) = Split(shape, dim);
        var d = mask.Data;
        foreach (var c in channels)
            for (int a = 0; a < outer; a++) d.Slice((a * size + c) * inner, inner).Fill(1f);
        return mask;
    }

    /// <summary>Elementwise product of two masks of the same shape, as a new tensor (no graph).</summary>
    public static Tensor Multiply(Tensor a, Tensor b)
    {
        if (!Shapes.Equal(a.Shape, b.Shape))
            throw new ArgumentException($"mask shapes differ: {Shapes.Format(a.Shape)} vs {Shapes.Format(b.Shape)}");
        var o = a.Clone();
        var od = o.Data; var bd = b.Data;
        for (int i = 0; i < od.Length; i++) od[i] *= bd[i];
        return o;
    }
}
