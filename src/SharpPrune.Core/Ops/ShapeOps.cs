namespace SharpPrune;

// Shape ops. View/Reshape/Flatten/Unsqueeze/Squeeze share storage; Permute/Transpose/Slice/Concat copy.
public sealed partial class Tensor
{
    public Tensor View(params int[] shape)
    {
        var s = Shapes.Infer(shape, Numel, _shape);
        var o = Share(_offset, s);
        var from = _shape;
        return Record(o, "ViewBackward", new[] { this }, g => new Tensor?[] { g.Reshape(from) });
    }

    public Tensor Reshape(params int[] shape) => View(shape);

    public Tensor Flatten(int startDim = 0, int endDim = -1)
    {
        if (_shape.Length == 0) return View(1);
        int s = Shapes.NormDim(startDim, _shape.Length), e = Shapes.NormDim(endDim, _shape.Length);
        if (s > e) throw new ArgumentException($"flatten: start_dim {startDim} must not come after end_dim {endDim}");
        var ns = new List<int>();
        for (int i = 0; i < s; i++) ns.Add(_shape[i]);
        int p = 1; for (int i = s; i <= e; i++) p *= _shape[i];
        ns.Add(p);
        for (int i = e + 1; i < _shape.Length; i++) ns.Add(_shape[i]);
        return View(ns.ToArray());
    }

    public Tensor Unsqueeze(int dim)
    {
        int d = Shapes.NormDim(dim, _shape.Length + 1);
        var ns = _shape.ToList(); ns.Insert(d, 1);
        return View(ns.ToArray());
    }

    public Tensor Squeeze(int dim)
    {
        int d = Shapes.NormDim(dim, _shape.Length);
        if (_shape.Length == 0 || _shape[d] != 1) return this; // 0-d accepts dim 0 / -1, as in PyTorch
        var ns = _shape.ToList(); ns.RemoveAt(d);
        return View(ns.ToArray());
    }

    public Tensor Permute(params int[] dims)
    {
        int r = _shape.Length;
        if (dims.Length != r) throw new ArgumentException($"permute: got {dims.Length} dims for a tensor of rank {r}");
        var perm = dims.Select(d => Shapes.NormDim(d, r)).ToArray();
        if (perm.Distinct().Count() != r) throw new ArgumentException($"permute: repeated dim in ({string.Join(", ", dims)})");
        var o = Empty(perm.Select(p => _shape[p]).ToArray());
        PermuteCopy(Data, _shape, perm, o.Data);
        var inv = new int[r];
        for (int i = 0; i < r; i++) inv[perm[i]] = i;
        return Record(o, "PermuteBackward", new[] { this }, g =>
        {
            var gi = Empty(_shape);
            PermuteCopy(g.Data, g._shape, inv, gi.Data);
            return new Tensor?[] { gi };
        });
    }

    public Tensor Transpose(int dim0, int dim1)
    {
        int r = _shape.Length;
        var p = Enumerable.Range(0, r).ToArray();
        int a = Shapes.NormDim(dim0, r), b = Shapes.NormDim(dim1, r);
        (p[a], p[b]) = (p[b], p[a]);
        return Permute(p);
    }

    /// <summary>2-D transpose.</summary>
    public Tensor T() => _shape.Length == 2 ? Transpose(0, 1) : throw new InvalidOperationException($"T() needs a 2-D tensor, got shape {Shapes.Format(_shape)}");

    private static void PermuteCopy(ReadOnlySpan<float> src, int[] srcShape, int[] perm, Span<float> dst)
    {
        int r = srcShape.Length;
        var srcStrides = Shapes.Strides(srcShape);
        var outShape = perm.Select(p => srcShape[p]).ToArray();
        var st = perm.Select(p => srcStrides[p]).ToArray(); // source stride per output dim
        var idx = new int[r];
        int isrc = 0;
        for (int i = 0; i < dst.Length; i++)
        {
            dst[i] = src[isrc];
            for (int d = r - 1; d >= 0; d--)
            {
                idx[d]++; isrc += st[d];
                if (idx[d] < outShape[d]) break;
                isrc -= st[d] * outShape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>Elements [start, end) along <paramref name="dim"/> (PyTorch's narrow / t[..., start:end]).</summary>
    public Tensor Slice(int dim, int start, int end)
    {
        int d = Shapes.NormDim(dim, _shape.Length);
        int size = _shape[d];
        if (start < 0) start += size;
        if (end < 0) end += size;
        start = Math.Clamp(start, 0, size); end = Math.Clamp(end, start, size);
        var ns = (int[])_shape.Clone(); ns[d] = end - start;
        int outer = 1; for (int i = 0; i < d; i++) outer *= _shape[i];
        int inner = 1; for (int i = d + 1; i < _shape.Length; i++) inner *= _shape[i];
        Tensor o;
        if (outer == 1)
            o = Share(_offset + start * inner, ns); // contiguous block: share storage
        else
        {
            o = Empty(ns);
            var s = Data; var od = o.Data; int len = (end - start) * inner;
            for (int b = 0; b < outer; b++) s.Slice(b * size * inner + start * inner, len).CopyTo(od.Slice(b * len, len));
        }
        return Record(o, "SliceBackward", new[] { this }, g =>
        {
            var gi = Zeros(_shape);
            var gd = g.Data; var gid = gi.Data; int len = (end - start) * inner;
            for (int b = 0; b < outer; b++) gd.Slice(b * len, len).CopyTo(gid.Slice(b * size * inner + start * inner, len));
            return new Tensor?[] { gi };
        });
    }

    /// <summary>Index <paramref name="index"/> along <paramref name="dim"/>, removing that dim.</summary>
    public Tensor Select(int dim, int index)
    {
        int d = Shapes.NormDim(dim, _shape.Length);
        if (index < -_shape[d] || index >= _shape[d])
            throw new IndexOutOfRangeException($"index {index} is out of bounds for dimension {d} with size {_shape[d]}");
        if (index < 0) index += _shape[d];
        return Slice(d, index, index + 1).Squeeze(d);
    }

    /// <summary>Gathers entries <paramref name="indices"/> along <paramref name="dim"/> (index_select).</summary>
    public Tensor IndexSelect(int dim, int[] indices)
    {
        int d = Shapes.NormDim(dim, _shape.Length);
        int size = _shape[d];
        foreach (var i in indices)
            if ((uint)i >= (uint)size) throw new IndexOutOfRangeException($"index {i} is out of bounds for dimension {d} with size {size}");
        int outer = 1; for (int i = 0; i < d; i++) outer *= _shape[i];
        int inner = 1; for (int i = d + 1; i < _shape.Length; i++) inner *= _shape[i];
        var ns = (int[])_shape.Clone(); ns[d] = indices.Length;
        var o = Empty(ns);
        var s = Data; var od = o.Data;
        for (int b = 0; b < outer; b++)
            for (int k = 0; k < indices.Length; k++)
                s.Slice((b * size + indices[k]) * inner, inner).CopyTo(od.Slice((b * indices.Length + k) * inner, inner));
        return Record(o, "IndexSelectBackward", new[] { this }, g =>
        {
            var gi = Zeros(_shape);
            var gd = g.Data; var gid = gi.Data;
            for (int b = 0; b < outer; b++)
                for (int k = 0; k < indices.Length; k++)
                {
                    var src = gd.Slice((b * indices.Length + k) * inner, inner);
                    var dst = gid.Slice((b * size + indices[k]) * inner, inner);
                    System.Numerics.Tensors.TensorPrimitives.Add(dst, src, dst);
                }
            return new Tensor?[] { gi };
        });
    }

    public static Tensor Concat(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("concat: expected a non-empty list of tensors");
        var first = tensors[0];
        int d = Shapes.NormDim(dim, first._shape.Length);
        int total = 0;
        for (int t = 0; t < tensors.Count; t++)
        {
            var s = tensors[t]._shape;
            if (s.Length != first._shape.Length)
                throw new ArgumentException($"concat: tensor {t} has rank {s.Length}, expected {first._shape.Length}");
            for (int i = 0; i < s.Length; i++)
                if (i != d && s[i] != first._shape[i])
                    throw new ArgumentException($"concat: sizes of tensors must match except in dimension {d}; tensor {t} has shape {Shapes.Format(s)}, tensor 0 has {Shapes.Format(first._shape)}");
            total += s[d];
        }
        var ns = (int[])first._shape.Clone(); ns[d] = total;
        int outer = 1; for (int i = 0; i < d; i++) outer *= ns[i];
        int inner = 1; for (int i = d + 1; i < ns.Length; i++) inner *= ns[i];
        var o = Empty(ns);
        var od = o.Data;
        int off = 0;
        foreach (var t in tensors)
        {
            int len = t._shape[d] * inner; var td = t.Data;
            for (int b = 0; b < outer; b++) td.Slice(b * len, len).CopyTo(od.Slice(b * total * inner + off, len));
            off += len;
        }
        return Record(o, "CatBackward", tensors.ToArray(), g =>
        {
            var res = new Tensor?[tensors.Count];
            int off2 = 0; var gd = g.Data;
            for (int k = 0; k < tensors.Count; k++)
            {
                var t = tensors[k]; int len = t._shape[d] * inner;
                if (t.RequiresGrad)
                {
                    var gt = Empty(t._shape); var gtd = gt.Data;
                    for (int b = 0; b < outer; b++) gd.Slice(b * total * inner + off2, len).CopyTo(gtd.Slice(b * len, len));
                    res[k] = gt;
                }
                off2 += len;
            }
            return res;
        });
    }

    public static Tensor Stack(IReadOnlyList<Tensor> tensors, int dim = 0)
    {
        if (tensors.Count == 0) throw new ArgumentException("stack: expected a non-empty list of tensors");
        // Checked here so the message shows the caller's shapes, not the unsqueezed ones Concat would report.
        for (int t = 1; t < tensors.Count; t++)
            if (!Shapes.Equal(tensors[t]._shape, tensors[0]._shape))
                throw new ArgumentException($"stack expects each tensor to be equal size, but got {Shapes.Format(tensors[0]._shape)} at entry 0 and {Shapes.Format(tensors[t]._shape)} at entry {t}");
        return Concat(tensors.Select(t => t.Unsqueeze(dim)).ToList(), dim);
    }
}
