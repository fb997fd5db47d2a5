using SharpPrune.Kernels;

namespace SharpPrune.NN;

/// <summary>Functional ops (PyTorch's torch.nn.functional), each with its backward beside it.</summary>
public static partial class F
{
    /// <summary>y = x·Wᵀ + b over the last dim of x; W is (out, in).</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null)
    {
        if (weight.Dim != 2) throw new ArgumentException($"linear: weight must be 2-D (out_features, in_features), got {Shapes.Format(weight.Shape)}");
        int outF = weight.Size(0), inF = weight.Size(1);
        if (x.Dim < 1 || x.Size(-1) != inF)
            throw new ArgumentException($"linear: input shape {Shapes.Format(x.Shape)} does not match weight {Shapes.Format(weight.Shape)} (expected last dim {inF})");
        if (bias != null && (bias.Dim != 1 || bias.Size(0) != outF))
            throw new ArgumentException($"linear: bias shape {Shapes.Format(bias.Shape)} does not match out_features {outF}");
        int rows = x.Numel / Math.Max(inF, 1);
        var outShape = x.ShapeCopy(); outShape[^1] = outF;
        var y = Tensor.Empty(outShape);
        Gemm.Sgemm(false, true, rows, outF, inF, 1f, x.Data, inF, weight.Data, inF, 0f, y.Data, outF);
        if (bias != null) AddRowBias(y.Data, bias.Data, rows, outF);
        var inputs = bias == null ? new[] { x, weight } : new[] { x, weight, bias };
        return Tensor.Record(y, "AddmmBackward", inputs, g =>
        {
            var gd = g.Data;
            Tensor? gx = null, gw = null, gb = null;
            if (x.RequiresGrad)
            {
                gx = Tensor.Empty(x.ShapeCopy());
                Gemm.Sgemm(false, false, rows, inF, outF, 1f, gd, outF, weight.Data, inF, 0f, gx.Data, inF);
            }
            if (weight.RequiresGrad && Autograd.Engine.CanAccumulateInto(weight, out var wg))
            {
                Gemm.Sgemm(true, false, outF, inF, rows, 1f, gd, outF, x.Data, inF, 1f, wg.Data, inF);
                wg.MarkChanged();
            }
            else if (weight.RequiresGrad)
            {
                gw = Tensor.Empty(outF, inF);
                Gemm.Sgemm(true, false, outF, inF, rows, 1f, gd, outF, x.Data, inF, 0f, gw.Data, inF);
            }
            if (bias != null && bias.RequiresGrad)
            {
                gb = Tensor.Zeros(outF);
                SumRows(gd, rows, outF, gb.Data);
            }
            return bias == null ? new[] { gx, gw } : new[] { gx, gw, gb };
        });
    }

    /// <summary>Matrix product of 2-D tensors.</summary>
    public static Tensor MatMul(Tensor a, Tensor b)
    {
        if (a.Dim != 2 || b.Dim != 2 || a.Size(1) != b.Size(0))
            throw new ArgumentException($"matmul: shapes {Shapes.Format(a.Shape)} and {Shapes.Format(b.Shape)} cannot be multiplied");
        int m = a.Size(0), k = a.Size(1), n = b.Size(1);
        var y = Tensor.Empty(m, n);
        Gemm.Sgemm(false, false, m, n, k, 1f, a.Data, k, b.Data, n, 0f, y.Data, n);
        return Tensor.Record(y, "MmBackward", new[] { a, b }, g =>
        {
            Tensor? ga = null, gb = null;
            if (a.RequiresGrad) { ga = Tensor.Empty(m, k); Gemm.Sgemm(false, true, m, k, n, 1f, g.Data, n, b.Data, n, 0f, ga.Data, k); }
            if (b.RequiresGrad) { gb = Tensor.Empty(k, n); Gemm.Sgemm(true, false, k, n, m, 1f, a.Data, k, g.Data, n, 0f, gb.Data, n); }
            return new[] { ga, gb };
        });
    }

    internal static void AddRowBias(Span<float> y, ReadOnlySpan<float> bias, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            var row = y.Slice(r * cols, cols);
            System.Numerics.Tensors.TensorPrimitives.Add(row, bias, row);
        }
    }

    internal static void SumRows(ReadOnlySpan<float> g, int rows, int cols, Span<float> dst)
    {
        for (int r = 0; r < rows; r++)
            System.Numerics.Tensors.TensorPrimitives.Add(dst, g.Slice(r * cols, cols), dst);
    }
}
