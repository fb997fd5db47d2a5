using SharpPrune.Autograd;
using System.Numerics.Tensors;

namespace SharpPrune;

// Element-wise unary ops, each with its derivative.
public sealed partial class Tensor
{
    public Tensor Neg()
    {
        var o = Empty(_shape);
        TensorPrimitives.Negate(Data, o.Data);
        return Record(o, "NegBackward", new[] { this }, g => new Tensor?[] { g.ScaleCopy(-1f) }, Saved.None);
    }

    public Tensor Exp()
    {
        var o = Empty(_shape);
        TensorPrimitives.Exp(Data, o.Data);
        return Record(o, "ExpBackward", new[] { this }, g => new Tensor?[] { MulData(g, o) }, Saved.Output);
    }

    public Tensor Log()
    {
        var o = Empty(_shape);
        TensorPrimitives.Log(Data, o.Data);
        return Record(o, "LogBackward", new[] { this }, g =>
        {
            var r = Empty(_shape);
            TensorPrimitives.Divide(g.Data, Data, r.Data);
            return new Tensor?[] { r };
        });
    }

    public Tensor Sqrt()
    {
        var o = Empty(_shape);
        TensorPrimitives.Sqrt(Data, o.Data);
        return Record(o, "SqrtBackward", new[] { this }, g =>
        {
            var r = Empty(_shape);
            TensorPrimitives.Divide(g.Data, o.Data, r.Data);
            TensorPrimitives.Multiply(r.Data, 0.5f, r.Data);
            return new Tensor?[] { r };
        }, Saved.Output);
    }

    public Tensor Abs()
    {
        var o = Empty(_shape);
        TensorPrimitives.Abs(Data, o.Data);
        return Record(o, "AbsBackward", new[] { this }, g => new Tensor?[] { MulData(g, Sign()) });
    }

    /// <summary>-1, 0 or +1 per element (not differentiable: its gradient is zero everywhere).</summary>
    public Tensor Sign()
    {
        var o = Empty(_shape);
        var s = Data; var d = o.Data;
        for (int i = 0; i < s.Length; i++) d[i] = s[i] > 0 ? 1f : s[i] < 0 ? -1f : 0f;
        return o;
    }

    public Tensor Pow(float p)
    {
        var o = Empty(_shape);
        TensorPrimitives.Pow(Data, p, o.Data);
        return Record(o, "PowBackward", new[] { this }, g =>
        {
            if (p == 0) return new Tensor?[] { Zeros(_shape) }; // x⁰ is constant; p·x^(p−1) would give NaN at x = 0
            var r = Empty(_shape);
            TensorPrimitives.Pow(Data, p - 1f, r.Data);
            TensorPrimitives.Multiply(r.Data, p, r.Data);
            TensorPrimitives.Multiply(r.Data, g.Data, r.Data);
            return new Tensor?[] { r };
        });
    }

    public Tensor Relu()
    {
        var o = Empty(_shape);
        Kernels.ElementwiseKernels.Relu(_storage, _offset, o._storage, o._offset, _numel);
        return RecordRelu(o);
    }

    /// <summary>
    /// In-place ReLU (PyTorch's relu_ / nn.ReLU(inplace=True)): overwrites this tensor's elements and returns
    /// the result, saving the allocation and a pass over memory. With grad recording the result is a new tensor
    /// object over the same storage that carries the ReLU's history (this one keeps its own), so use the returned
    /// tensor. Backward throws if a recorded op needed the overwritten values.
    /// </summary>
    public Tensor Relu_()
    {
        CheckInPlace("relu_");
        Kernels.ElementwiseKernels.Relu(_storage, _offset, _storage, _offset, _numel);
        Version++;
        if (!GradMode.IsEnabled || !_requiresGrad) return this;
        return RecordRelu(Share(_offset, _shape));
    }

    private Tensor RecordRelu(Tensor o) =>
        Record(o, "ReluBackward", new[] { this }, g => new Tensor?[] { o.ReluGradient(g) }, Saved.Output);

    /// <summary>The gradient through a ReLU whose output this is: <paramref name="g"/> where this is positive, else 0.</summary>
    internal Tensor ReluGradient(Tensor g)
    {
        var r = Empty(_shape);
        Kernels.ElementwiseKernels.ReluBackward(_storage, _offset, g._storage, g._offset, r._storage, r._offset, _numel);
        return r;
    }

    /// <summary>PyTorch's rule: a leaf that requires grad cannot be overwritten while recording.</summary>
    private void CheckInPlace(string op)
    {
        if (GradMode.IsEnabled && _requiresGrad && GradFn == null)
            throw new InvalidOperationException($"{op}: a leaf tensor that requires grad (shape {Shapes.Format(_shape)}) is being used in an in-place operation");
    }

    public Tensor Sigmoid()
    {
        var o = Empty(_shape);
        TensorPrimitives.Sigmoid(Data, o.Data);
        return Record(o, "SigmoidBackward", new[] { this }, g =>
        {
            var r = Empty(_shape);
            var od = o.Data; var gd = g.Data; var rd = r.Data;
            for (int i = 0; i < rd.Length; i++) rd[i] = gd[i] * od[i] * (1f - od[i]);
            return new Tensor?[] { r };
        }, Saved.Output);
    }

    public Tensor Tanh()
    {
        var o = Empty(_shape);
        TensorPrimitives.Tanh(Data, o.Data);
        return Record(o, "TanhBackward", new[] { this }, g =>
        {
            var r = Empty(_shape);
            var od = o.Data; var gd = g.Data; var rd = r.Data;
            for (int i = 0; i < rd.Length; i++) rd[i] = gd[i] * (1f - od[i] * od[i]);
            return new Tensor?[] { r };
        }, Saved.Output);
    }

    /// <summary>Clamps to [min, max]; the gradient passes where the input was inside the range (PyTorch's rule).</summary>
    public Tensor Clamp(float? min = null, float? max = null)
    {
        float lo = min ?? float.NegativeInfinity, hi = max ?? float.PositiveInfinity;
        var o = Empty(_shape);
        var s = Data; var d = o.Data;
        for (int i = 0; i < s.Length; i++) d[i] = Math.Min(Math.Max(s[i], lo), hi);
        return Record(o, "ClampBackward", new[] { this }, g =>
        {
            var r = Empty(_shape);
            var sd = Data; var gd = g.Data; var rd = r.Data;
            for (int i = 0; i < rd.Length; i++) rd[i] = sd[i] >= lo && sd[i] <= hi ? gd[i] : 0f;
            return new Tensor?[] { r };
        });
    }

    private static Tensor MulData(Tensor a, Tensor b)
    {
        var r = Empty(a._shape);
        TensorPrimitives.Multiply(a.Data, b.Data, r.Data);
        return r;
    }
}
