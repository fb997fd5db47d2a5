namespace SharpPrune;

// Sort / topk / kthvalue. Ties are broken by index (lower index first in ascending order), which makes
// every result deterministic — PyTorch leaves the order among equal values unspecified.
public sealed partial class Tensor
{
    /// <summary>Sorts along <paramref name="dim"/> (stable).</summary>
    public ValuesIndices Sort(int dim = -1, bool descending = false)
    {
        if (_shape.Length == 0) return new ValuesIndices(Clone(), new[] { 0 });
        int d = Shapes.NormDim(dim, _shape.Length);
        return TopKAlong(d, _shape[d], largest: descending);
    }

    /// <summary>The <paramref name="k"/> largest (or smallest) entries along <paramref name="dim"/>, sorted.</summary>
    public ValuesIndices TopK(int k, int dim = -1, bool largest = true)
    {
        int d = Shapes.NormDim(dim, Math.Max(_shape.Length, 1));
        int size = _shape.Length == 0 ? 1 : _shape[d];
        if (k < 0 || k > size) throw new ArgumentOutOfRangeException(nameof(k), $"selected index k = {k} out of range for dimension {d} of size {size}");
        if (_shape.Length == 0) return new ValuesIndices(k == 0 ? Zeros(0) : Clone(), k == 0 ? Array.Empty<int>() : new[] { 0 });
        return TopKAlong(d, k, largest);
    }

    /// <summary>The k-th smallest (1-based, like PyTorch) along <paramref name="dim"/>.</summary>
    public ValuesIndices KthValue(int k, int dim = -1, bool keepDim = false)
    {
        int d = Shapes.NormDim(dim, _shape.Length);
        if (_shape.Length == 0) return View(1).KthValue(k, 0, keepDim: false); // 0-d: a one-element dim
        if (k < 1 || k > _shape[d]) throw new ArgumentOutOfRangeException(nameof(k), $"kthvalue: k = {k} out of range for dimension {d} of size {_shape[d]}");
        var s = TopKAlong(d, k, largest: false);
        var v = s.Values.Slice(d, k - 1, k);
        var (outer, _, inner) = Split(d);
        var idx = new int[outer * inner];
        for (int a = 0; a < outer; a++)
            for (int c = 0; c < inner; c++) idx[a * inner + c] = s.Indices[(a * k + k - 1) * inner + c];
        return new ValuesIndices(keepDim ? v : v.Squeeze(d), idx);
    }

    private ValuesIndices TopKAlong(int d, int k, bool largest)
    {
        var (outer, size, inner) = Split(d);
        var ns = (int[])_shape.Clone(); ns[d] = k;
        var o = Empty(ns);
        var idxOut = new int[outer * k * inner];
        var src = Data; var od = o.Data;
        var keys = new float[size]; var pos = new int[size];
        for (int a = 0; a < outer; a++)
            for (int c = 0; c < inner; c++)
            {
                for (int i = 0; i < size; i++) { keys[i] = src[(a * size + i) * inner + c]; pos[i] = i; }
                SortIndices(keys, pos, largest);
                for (int j = 0; j < k; j++)
                {
                    od[(a * k + j) * inner + c] = keys[pos[j]];
                    idxOut[(a * k + j) * inner + c] = pos[j];
                }
            }
        var res = Record(o, "TopkBackward", new[] { this }, g =>
        {
            var gi = Zeros(_shape); var gd = g.Data; var gid = gi.Data;
            for (int a = 0; a < outer; a++)
                for (int j = 0; j < k; j++)
                    for (int c = 0; c < inner; c++)
                        gid[(a * size + idxOut[(a * k + j) * inner + c]) * inner + c] += gd[(a * k + j) * inner + c];
            return new Tensor?[] { gi };
        });
        return new ValuesIndices(res, idxOut);
    }

    /// <summary>Orders positions by key, ties by position; NaN counts as the largest value (PyTorch's rule).</summary>
    internal static void SortIndices(float[] keys, int[] pos, bool descending)
    {
        var kk = keys;
        Comparison<int> cmp = descending
            ? (x, y) => { int c = CompareNaNLast(kk[y], kk[x]); return c != 0 ? c : x.CompareTo(y); }
            : (x, y) => { int c = CompareNaNLast(kk[x], kk[y]); return c != 0 ? c : x.CompareTo(y); };
        Array.Sort(pos, 0, Math.Min(pos.Length, keys.Length), Comparer<int>.Create(cmp));
    }

    private static int CompareNaNLast(float a, float b)
    {
        bool na = float.IsNaN(a), nb = float.IsNaN(b);
        if (na || nb) return na == nb ? 0 : na ? 1 : -1;
        return a.CompareTo(b);
    }

    /// <summary>Flat indices of the k smallest (or largest) elements over the whole tensor, ties by index.</summary>
    public int[] TopKFlatIndices(int k, bool largest)
    {
        int n = Numel;
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} out of range for a tensor of {n} elements");
        var keys = ToArray(); var pos = new int[n];
        for (int i = 0; i < n; i++) pos[i] = i;
        SortIndices(keys, pos, largest);
        return pos.AsSpan(0, k).ToArray();
    }
}
