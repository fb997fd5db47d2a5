using System.Numerics.Tensors;

namespace SharpPrune;

/// <summary>Values with their positions along the reduced dim (indices flat, same shape as values).</summary>
public readonly record struct ValuesIndices(Tensor Values, int[] Indices);

// Reductions over all elements or over chosen dims.
public sealed partial class Tensor
{
    public Tensor Sum()
    {
        var o = Scalar((float)SumDouble(Data));
        return Record(o, "SumBackward", new[] { this }, g => new Tensor?[] { Full(_shape, g.Item()) });
    }

    public Tensor Mean()
    {
        if (Numel == 0) throw new InvalidOperationException("mean of an empty tensor");
        int n = Numel;
        var o = Scalar((float)(SumDouble(Data) / n));
        return Record(o, "MeanBackward", new[] { this }, g => new Tensor?[] { Full(_shape, g.Item() / n) });
    }

    public Tensor Sum(int dim, bool keepDim = false) => Sum(new[] { dim }, keepDim);
    public Tensor Mean(int dim, bool keepDim = false) => Mean(new[] { dim }, keepDim);

    public Tensor Sum(int[] dims, bool keepDim = false)
    {
        var (rows, len, outShape, keptShape) = ToRows(dims);
        var o = Empty(keepDim ? keptShape : outShape);
        var rd = rows.Data; var od = o.Data;
        for (int i = 0; i < od.Length; i++) od[i] = (float)SumDouble(rd.Slice(i * len, len));
        return Record(o, "SumBackward", new[] { this }, g => new Tensor?[] { g.Reshape(keptShape).ExpandTo(_shape) });
    }

    public Tensor Mean(int[] dims, bool keepDim = false)
    {
        var (_, len, _, _) = ToRows(dims);
        return Sum(dims, keepDim).MulScalar(1f / len);
    }

    public float Max() => Numel == 0 ? throw new InvalidOperationException("max of an empty tensor") : TensorPrimitives.Max(Data);
    public float Min() => Numel == 0 ? throw new InvalidOperationException("min of an empty tensor") : TensorPrimitives.Min(Data);

    /// <summary>Max along <paramref name="dim"/> with the first index of the maximum (differentiable in the values).</summary>
    public ValuesIndices Max(int dim, bool keepDim = false) => ArgReduce(dim, keepDim, max: true);
    public ValuesIndices Min(int dim, bool keepDim = false) => ArgReduce(dim, keepDim, max: false);
    public int[] ArgMax(int dim) => ArgReduce(dim, false, true).Indices;

    private ValuesIndices ArgReduce(int dim, bool keepDim, bool max)
    {
        int d = Shapes.NormDim(dim, _shape.Length);
        if (_shape.Length == 0) return View(1).ArgReduce(0, false, max); // 0-d: itself, index 0
        var (outer, size, inner) = Split(d);
        if (size == 0) throw new InvalidOperationException($"cannot reduce over dim {d} of size 0");
        var kept = (int[])_shape.Clone(); kept[d] = 1;
        var outShape = _shape.Where((_, i) => i != d).ToArray();
        var o = Empty(keepDim ? kept : outShape);
        var idx = new int[outer * inner];
        var s = Data; var od = o.Data;
        for (int a = 0; a < outer; a++)
            for (int c = 0; c < inner; c++)
            {
                int best = 0; float bv = s[a * size * inner + c];
                for (int k = 1; k < size; k++)
                {
                    float v = s[(a * size + k) * inner + c];
                    if (max ? v > bv || float.IsNaN(v) && !float.IsNaN(bv) : v < bv || float.IsNaN(v) && !float.IsNaN(bv)) { bv = v; best = k; }
                }
                od[a * inner + c] = bv; idx[a * inner + c] = best;
            }
        var res = Record(o, max ? "MaxBackward" : "MinBackward", new[] { this }, g =>
        {
            var gi = Zeros(_shape); var gd = g.Data; var gid = gi.Data;
            for (int a = 0; a < outer; a++)
                for (int c = 0; c < inner; c++)
                    gid[(a * size + idx[a * inner + c]) * inner + c] = gd[a * inner + c];
            return new Tensor?[] { gi };
        });
        return new ValuesIndices(res, idx);
    }

    /// <summary>
    /// Vector p-norm over all elements (PyTorch's torch.norm(t, p)): p = 0 counts non-zeros, ±∞ take max/min |x|.
    /// </summary>
    public float Norm(double p = 2) => NormOf(Data, p);

    /// <summary>p-norm over <paramref name="dims"/> (not differentiable; used for ranking and reports).</summary>
    public Tensor Norm(double p, int[] dims, bool keepDim = false)
    {
        var (rows, len, outShape, keptShape) = ToRows(dims);
        var o = Empty(keepDim ? keptShape : outShape);
        var rd = rows.Data; var od = o.Data;
        for (int i = 0; i < od.Length; i++) od[i] = NormOf(rd.Slice(i * len, len), p);
        return o;
    }

    internal static float NormOf(ReadOnlySpan<float> x, double p)
    {
        if (double.IsNaN(p)) throw new ArgumentException("norm order p must not be NaN");
        if (x.Length == 0) return double.IsNegativeInfinity(p) ? float.PositiveInfinity : 0f;
        if (double.IsPositiveInfinity(p)) return TensorPrimitives.MaxMagnitude(x) is var m ? Math.Abs(m) : 0f;
        if (double.IsNegativeInfinity(p)) return Math.Abs(TensorPrimitives.MinMagnitude(x));
        if (p == 0) { int n = 0; foreach (var v in x) if (v != 0f) n++; return n; }
        if (p == 1) { double s = 0; foreach (var v in x) s += Math.Abs(v); return (float)s; }
        if (p == 2) { double s = 0; foreach (var v in x) s += (double)v * v; return (float)Math.Sqrt(s); }
        double acc = 0;
        foreach (var v in x) acc += Math.Pow(Math.Abs(v), p);
        return (float)Math.Pow(acc, 1.0 / p);
    }

    internal static double SumDouble(ReadOnlySpan<float> x)
    {
        // Pairwise-ish: float SIMD partial sums per 4096 block, accumulated in double.
        double s = 0;
        for (int i = 0; i < x.Length; i += 4096) s += TensorPrimitives.Sum(x.Slice(i, Math.Min(4096, x.Length - i)));
        return s;
    }

    internal (int outer, int size, int inner) Split(int d)
    {
        int outer = 1; for (int i = 0; i < d; i++) outer *= _shape[i];
        int inner = 1; for (int i = d + 1; i < _shape.Length; i++) inner *= _shape[i];
        return (outer, _shape[d], inner);
    }

    /// <summary>
    /// Lays the tensor out as rows: one row per kept index, each row the reduced elements.
    /// Returns the rows tensor, row length, output shape without and with kept (size-1) dims.
    /// </summary>
    private (Tensor rows, int len, int[] outShape, int[] keptShape) ToRows(int[] dims)
    {
        int r = _shape.Length;
        if (r == 0)
        {
            foreach (var x in dims) Shapes.NormDim(x, 0); // a 0-d tensor accepts dim 0 / -1 and reduces to itself
            return (this, 1, Array.Empty<int>(), Array.Empty<int>());
        }
        // PyTorch reduces over every dim when the list is empty (sum(dim=[]), norm(dim=[]) of a 1-D bias).
        if (dims.Length == 0) dims = Enumerable.Range(0, r).ToArray();
        var red = dims.Select(x => Shapes.NormDim(x, r)).Distinct().OrderBy(x => x).ToArray();
        if (red.Length != dims.Length) throw new ArgumentException($"dim appears multiple times in the list of dims ({string.Join(", ", dims)})");
        var keep = Enumerable.Range(0, r).Where(i => !red.Contains(i)).ToArray();
        int len = 1; foreach (var d in red) len *= _shape[d];
        var outShape = keep.Select(i => _shape[i]).ToArray();
        var keptShape = _shape.Select((s, i) => red.Contains(i) ? 1 : s).ToArray();
        Tensor rows;
        bool trailing = red.Length == 0 || red[0] == r - red.Length; // reduced dims already last
        if (trailing) rows = this;
        else
        {
            using var _ = Autograd.GradMode.NoGrad();
            rows = Detach().Permute(keep.Concat(red).ToArray());
        }
        return (rows, len, outShape, keptShape);
    }
}
