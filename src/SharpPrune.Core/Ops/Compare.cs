namespace SharpPrune;

// Comparisons produce float masks (1 where true, 0 where false) and carry no gradient.
public sealed partial class Tensor
{
    public Tensor Gt(float v) => MapMask(x => x > v);
    public Tensor Ge(float v) => MapMask(x => x >= v);
    public Tensor Lt(float v) => MapMask(x => x < v);
    public Tensor Le(float v) => MapMask(x => x <= v);
    public Tensor Eq(float v) => MapMask(x => x == v);
    public Tensor Ne(float v) => MapMask(x => x != v);

    public Tensor Gt(Tensor o) => ZipMask(o, (a, b) => a > b);
    public Tensor Ge(Tensor o) => ZipMask(o, (a, b) => a >= b);
    public Tensor Lt(Tensor o) => ZipMask(o, (a, b) => a < b);
    public Tensor Le(Tensor o) => ZipMask(o, (a, b) => a <= b);
    public Tensor Eq(Tensor o) => ZipMask(o, (a, b) => a == b);

    /// <summary>Number of non-zero elements.</summary>
    public int CountNonZero()
    {
        int n = 0;
        foreach (var x in Data) if (x != 0f) n++;
        return n;
    }

    public bool AllClose(Tensor other, float rtol = 1e-5f, float atol = 1e-8f)
    {
        if (!Shapes.Equal(_shape, other._shape)) return false;
        var a = Data; var b = other.Data;
        for (int i = 0; i < a.Length; i++)
            if (!(Math.Abs(a[i] - b[i]) <= atol + rtol * Math.Abs(b[i])) && !(a[i] == b[i])) return false;
        return true;
    }

    public bool Equal(Tensor other) => Shapes.Equal(_shape, other._shape) && Data.SequenceEqual(other.Data);

    private Tensor MapMask(Func<float, bool> f)
    {
        var o = Empty(_shape);
        var s = Data; var d = o.Data;
        for (int i = 0; i < s.Length; i++) d[i] = f(s[i]) ? 1f : 0f;
        return o;
    }

    private Tensor ZipMask(Tensor other, Func<float, float, bool> f)
    {
        var (a, b) = BroadcastPair(this, other);
        var o = Empty(a._shape);
        var x = a.Data; var y = b.Data; var d = o.Data;
        for (int i = 0; i < d.Length; i++) d[i] = f(x[i], y[i]) ? 1f : 0f;
        return o;
    }

    /// <summary>Selects <paramref name="a"/> where <paramref name="condition"/> is non-zero, else <paramref name="b"/>; differentiable in a and b.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b)
    {
        var shape = Shapes.Broadcast(Shapes.Broadcast(condition._shape, a._shape), b._shape);
        var c = condition.ExpandTo(shape); var ae = a.ExpandTo(shape); var be = b.ExpandTo(shape);
        var o = Empty(shape);
        {
            var cd0 = c.Data; var ad = ae.Data; var bd = be.Data; var od = o.Data;
            for (int i = 0; i < od.Length; i++) od[i] = cd0[i] != 0f ? ad[i] : bd[i];
        }
        return Record(o, "WhereBackward", new[] { a, b }, g =>
        {
            var gd = g.Data; var cd = c.Data;
            var ga = Empty(shape); var gb = Empty(shape);
            var gad = ga.Data; var gbd = gb.Data;
            for (int i = 0; i < gd.Length; i++) { bool t = cd[i] != 0f; gad[i] = t ? gd[i] : 0f; gbd[i] = t ? 0f : gd[i]; }
            return new Tensor?[] { ga.SumTo(a._shape), gb.SumTo(b._shape) };
        });
    }

    private static (Tensor, Tensor) BroadcastPair(Tensor a, Tensor b)
    {
        if (Shapes.Equal(a._shape, b._shape)) return (a, b);
        var s = Shapes.Broadcast(a._shape, b._shape);
        return (a.ExpandTo(s), b.ExpandTo(s));
    }

    /// <summary>Materialises a broadcast copy with <paramref name="shape"/> (no graph).</summary>
    internal Tensor ExpandTo(int[] shape)
    {
        if (Shapes.Equal(_shape, shape)) return this;
        Shapes.Broadcast(_shape, shape); // validates
        var o = Zeros(shape);
        TensorPrimitives_AddBroadcast(this, o);
        return o;
    }

    private static void TensorPrimitives_AddBroadcast(Tensor src, Tensor dst)
    {
        int r = dst._shape.Length;
        var ss = BroadcastStrides(src._shape, r);
        var sd = src.Data; var dd = dst.Data;
        var idx = new int[r];
        int isrc = 0;
        for (int i = 0; i < dd.Length; i++)
        {
            dd[i] = sd[isrc];
            for (int d = r - 1; d >= 0; d--)
            {
                idx[d]++; isrc += ss[d];
                if (idx[d] < dst._shape[d]) break;
                isrc -= ss[d] * dst._shape[d]; idx[d] = 0;
            }
        }
    }
}
