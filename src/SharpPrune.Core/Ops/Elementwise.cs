using SharpPrune.Autograd;
using System.Numerics.Tensors;

namespace SharpPrune;

// Broadcasting binary arithmetic. Backward sums the incoming gradient over broadcast dims.
public sealed partial class Tensor
{
    public Tensor Add(Tensor other) => Binary(this, other, "AddBackward", BinOp.Add);
    public Tensor Sub(Tensor other) => Binary(this, other, "SubBackward", BinOp.Sub);
    public Tensor Mul(Tensor other) => Binary(this, other, "MulBackward", BinOp.Mul);
    public Tensor Div(Tensor other) => Binary(this, other, "DivBackward", BinOp.Div);

    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    public static Tensor operator -(Tensor a) => a.Neg();
    public static Tensor operator +(Tensor a, float s) => a.AddScalar(s);
    public static Tensor operator -(Tensor a, float s) => a.AddScalar(-s);
    public static Tensor operator *(Tensor a, float s) => a.MulScalar(s);
    public static Tensor operator *(float s, Tensor a) => a.MulScalar(s);
    public static Tensor operator /(Tensor a, float s) => a.MulScalar(1f / s);

    /// <summary>
    /// In-place add (PyTorch's add_ / <c>x += y</c>): this ← this + other, with <paramref name="other"/> broadcast
    /// to this tensor's shape. As with <see cref="Relu_"/>, under grad recording the returned tensor (same storage)
    /// carries the history.
    /// </summary>
    public Tensor Add_(Tensor other)
    {
        CheckInPlace("add_");
        if (Shapes.Equal(_shape, other._shape))
            Kernels.ElementwiseKernels.Add(_storage, _offset, other._storage, other._offset, _storage, _offset, _numel);
        else
        {
            var shape = Shapes.Broadcast(_shape, other._shape);
            if (!Shapes.Equal(shape, _shape))
                throw new ArgumentException($"add_: output with shape {Shapes.Format(_shape)} doesn't match the broadcast shape {Shapes.Format(shape)}");
            if (other.Numel == 1) Run(BinOp.Add, Data, other.Data, Data);
            else BroadcastApply(BinOp.Add, this, other, this);
        }
        Version++;
        if (!GradMode.IsEnabled || !(_requiresGrad || other._requiresGrad)) return this;
        var a = this;
        return Record(Share(_offset, _shape), "AddBackward", new[] { a, other }, g => new[]
        {
            a.RequiresGrad ? g : null, other.RequiresGrad ? g.SumTo(other._shape) : null,
        }, Saved.None);
    }

    public Tensor AddScalar(float s)
    {
        var o = Empty(_shape);
        TensorPrimitives.Add(Data, s, o.Data);
        return Record(o, "AddBackward", new[] { this }, g => new Tensor?[] { g }, Saved.None);
    }

    public Tensor MulScalar(float s)
    {
        var o = Empty(_shape);
        TensorPrimitives.Multiply(Data, s, o.Data);
        return Record(o, "MulBackward", new[] { this }, g => new Tensor?[] { g.ScaleCopy(s) });
    }

    internal Tensor ScaleCopy(float s)
    {
        var o = Empty(_shape);
        TensorPrimitives.Multiply(Data, s, o.Data);
        return o;
    }

    private enum BinOp { Add, Sub, Mul, Div }

    private static Tensor Binary(Tensor a, Tensor b, string name, BinOp op)
    {
        var shape = Shapes.Equal(a._shape, b._shape) ? a._shape : Shapes.Broadcast(a._shape, b._shape);
        var o = Empty(shape);
        if (Shapes.Equal(a._shape, b._shape))
        {
            if (op == BinOp.Add) Kernels.ElementwiseKernels.Add(a._storage, a._offset, b._storage, b._offset, o._storage, o._offset, o._numel);
            else Run(op, a.Data, b.Data, o.Data);
        }
        else if (b.Numel == 1) Run(op, a.Data, b.Data, o.Data);
        else BroadcastApply(op, a, b, o);

        return Record(o, name, new[] { a, b }, g =>
        {
            Tensor? ga = null, gb = null;
            switch (op)
            {
                case BinOp.Add: ga = a.RequiresGrad ? g : null; gb = b.RequiresGrad ? g : null; break;
                case BinOp.Sub: ga = a.RequiresGrad ? g : null; gb = b.RequiresGrad ? g.ScaleCopy(-1f) : null; break;
                case BinOp.Mul:
                    if (a.RequiresGrad) ga = Binary(g, b, "", BinOp.Mul);
                    if (b.RequiresGrad) gb = Binary(g, a, "", BinOp.Mul);
                    break;
                case BinOp.Div:
                    if (a.RequiresGrad) ga = Binary(g, b, "", BinOp.Div);
                    if (b.RequiresGrad)
                    {
                        // d(a/b)/db = -a / b^2 = -(o / b)
                        var t = Binary(Binary(g, o, "", BinOp.Mul), b, "", BinOp.Div);
                        TensorPrimitives.Negate(t.Data, t.Data);
                        gb = t;
                    }
                    break;
            }
            return new[] { ga == null ? null : ga.SumTo(a._shape), gb == null ? null : gb.SumTo(b._shape) };
        }, op switch { BinOp.Add or BinOp.Sub => Saved.None, BinOp.Mul => Saved.Inputs, _ => Saved.Inputs | Saved.Output });
    }

    /// <summary>
    /// o = a op b over one run; <paramref name="b"/> of length 1 is a scalar broadcast along it (the same result as
    /// an element-wise pass when the run has length 1 too).
    /// </summary>
    private static void Run(BinOp op, ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> o)
    {
        bool scalar = b.Length == 1;
        switch (op)
        {
            case BinOp.Add: if (scalar) TensorPrimitives.Add(a, b[0], o); else TensorPrimitives.Add(a, b, o); break;
            case BinOp.Sub: if (scalar) TensorPrimitives.Subtract(a, b[0], o); else TensorPrimitives.Subtract(a, b, o); break;
            case BinOp.Mul: if (scalar) TensorPrimitives.Multiply(a, b[0], o); else TensorPrimitives.Multiply(a, b, o); break;
            default: if (scalar) TensorPrimitives.Divide(a, b[0], o); else TensorPrimitives.Divide(a, b, o); break;
        }
    }

    private static void BroadcastApply(BinOp op, Tensor a, Tensor b, Tensor o)
    {
        var shape = o._shape;
        int r = shape.Length;
        var sa = BroadcastStrides(a._shape, r);
        var sb = BroadcastStrides(b._shape, r);
        var ad = a.Data; var bd = b.Data; var od = o.Data;
        // Innermost dim handled as a run when both operands are contiguous or constant along it.
        int inner = r == 0 ? 1 : shape[r - 1];
        int outer = inner == 0 ? 0 : od.Length / inner;
        var idx = new int[r];
        int ia = 0, ib = 0;
        int ast = r == 0 ? 0 : sa[r - 1], bst = r == 0 ? 0 : sb[r - 1];
        for (int row = 0; row < outer; row++)
        {
            var orow = od.Slice(row * inner, inner);
            if (ast == 1 && bst == 1) Run(op, ad.Slice(ia, inner), bd.Slice(ib, inner), orow);
            else if (ast == 1 && bst == 0) Run(op, ad.Slice(ia, inner), bd.Slice(ib, 1), orow);
            else if (ast == 0 && bst == 1)
            {
                float av = ad[ia];
                var brow = bd.Slice(ib, inner);
                switch (op)
                {
                    case BinOp.Add: TensorPrimitives.Add(brow, av, orow); break;
                    case BinOp.Sub: TensorPrimitives.Subtract(av, brow, orow); break;
                    case BinOp.Mul: TensorPrimitives.Multiply(brow, av, orow); break;
                    default: TensorPrimitives.Divide(av, brow, orow); break;
                }
            }
            else
            {
                float av = ad[ia], bv = bd[ib];
                float v = op switch { BinOp.Add => av + bv, BinOp.Sub => av - bv, BinOp.Mul => av * bv, _ => av / bv };
                orow.Fill(v);
            }
            // advance the multi-index over dims [0, r-1)
            for (int d = r - 2; d >= 0; d--)
            {
                idx[d]++; ia += sa[d]; ib += sb[d];
                if (idx[d] < shape[d]) break;
                ia -= sa[d] * shape[d]; ib -= sb[d] * shape[d]; idx[d] = 0;
            }
        }
    }

    /// <summary>Strides of <paramref name="shape"/> right-aligned to rank <paramref name="r"/>, 0 along broadcast dims.</summary>
    internal static int[] BroadcastStrides(int[] shape, int r)
    {
        var s = new int[r];
        int acc = 1;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            int d = r - shape.Length + i;
            s[d] = shape[i] == 1 ? 0 : acc;
            acc *= shape[i];
        }
        return s;
    }

    /// <summary>Sums a broadcast gradient back to <paramref name="shape"/> (no graph).</summary>
    internal Tensor SumTo(int[] shape)
    {
        if (Shapes.Equal(_shape, shape)) return this;
        var o = Zeros(shape);
        int r = _shape.Length;
        var so = BroadcastStrides(shape, r);
        var src = Data; var dst = o.Data;
        var idx = new int[r];
        int io = 0;
        for (int i = 0; i < src.Length; i++)
        {
            dst[io] += src[i];
            for (int d = r - 1; d >= 0; d--)
            {
                idx[d]++; io += so[d];
                if (idx[d] < _shape[d]) break;
                io -= so[d] * _shape[d]; idx[d] = 0;
            }
        }
        return o;
    }
}
