using SharpPrune.Autograd;
using SharpPrune.Kernels;

namespace SharpPrune.NN;

public static partial class F
{
    /// <summary>2-D max pooling over (N, C, H, W) or (C, H, W); stride defaults to the kernel (ceil_mode false, dilation 1).</summary>
    public static Tensor MaxPool2d(Tensor x, int kernelSize, int? stride = null, int padding = 0) =>
        MaxPool2d(x, (kernelSize, kernelSize), stride is int s ? (s, s) : null, (padding, padding));

    public static Tensor MaxPool2d(Tensor x, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null)
    {
        var p = PoolPlan.Create("max_pool2d", x, kernelSize, stride ?? kernelSize, padding ?? (0, 0));
        var y = Tensor.Empty(p.OutShape);
        // Argmax indices only when a backward can happen. They live in a float tensor's storage, read as ints (bit
        // patterns, never as floats): an activation like any other, so a training step's indices come from the
        // storage pool and go back to it when the backward releases the graph, instead of a fresh array per step.
        var indexStore = GradMode.IsEnabled && x.RequiresGrad ? Tensor.Empty(p.OutShape) : null;
        PoolingKernels.MaxPool2dForward(p.N, p.C, p.H, p.W, p.KH, p.KW, p.SH, p.SW, p.PH, p.PW, x.Data, y.Data,
            indexStore == null ? Span<int>.Empty : AsIndices(indexStore));
        return Tensor.Record(y, "MaxPool2DWithIndicesBackward", new[] { x }, g =>
        {
            var gx = Tensor.Empty(x.ShapeCopy());
            PoolingKernels.MaxPool2dBackward(p.N, p.C, p.H, p.W, p.OH, p.OW, g.Data, AsIndices(indexStore!), gx.Data);
            return new Tensor?[] { gx };
        });
    }

    private static Span<int> AsIndices(Tensor store) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(store.Data);

    /// <summary>2-D average pooling; zero padding counts in the divisor (PyTorch's count_include_pad = True).</summary>
    public static Tensor AvgPool2d(Tensor x, int kernelSize, int? stride = null, int padding = 0) =>
        AvgPool2d(x, (kernelSize, kernelSize), stride is int s ? (s, s) : null, (padding, padding));

    public static Tensor AvgPool2d(Tensor x, (int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null)
    {
        var p = PoolPlan.Create("avg_pool2d", x, kernelSize, stride ?? kernelSize, padding ?? (0, 0));
        var y = Tensor.Empty(p.OutShape);
        PoolingKernels.AvgPool2dForward(p.N, p.C, p.H, p.W, p.KH, p.KW, p.SH, p.SW, p.PH, p.PW, x.Data, y.Data);
        return Tensor.Record(y, "AvgPool2DBackward", new[] { x }, g =>
        {
            var gx = Tensor.Empty(x.ShapeCopy());
            PoolingKernels.AvgPool2dBackward(p.N, p.C, p.H, p.W, p.KH, p.KW, p.SH, p.SW, p.PH, p.PW, g.Data, gx.Data);
            return new Tensor?[] { gx };
        });
    }

    /// <summary>Average pooling to a fixed output size; bin i covers [⌊i·H/oh⌋, ⌈(i+1)·H/oh⌉) as in PyTorch.</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor x, int outputSize) => AdaptiveAvgPool2d(x, (outputSize, outputSize));

    public static Tensor AdaptiveAvgPool2d(Tensor x, (int H, int W) outputSize)
    {
        var (n, c, h, w) = PoolPlan.Planes("adaptive_avg_pool2d", x);
        var (oh, ow) = outputSize;
        if (oh < 1 || ow < 1)
            throw new ArgumentException($"adaptive_avg_pool2d: output size ({oh}, {ow}) must be positive");
        var outShape = x.ShapeCopy(); outShape[^2] = oh; outShape[^1] = ow;
        var y = Tensor.Empty(outShape);
        PoolingKernels.AdaptiveAvgPool2dForward(n, c, h, w, oh, ow, x.Data, y.Data);
        return Tensor.Record(y, "AdaptiveAvgPool2DBackward", new[] { x }, g =>
        {
            var gx = Tensor.Empty(x.ShapeCopy());
            PoolingKernels.AdaptiveAvgPool2dBackward(n, c, h, w, oh, ow, g.Data, gx.Data);
            return new Tensor?[] { gx };
        });
    }

    /// <summary>Validated pooling geometry; a (C, H, W) input is pooled as one sample.</summary>
    private readonly record struct PoolPlan(int N, int C, int H, int W, int KH, int KW, int SH, int SW, int PH, int PW, int OH, int OW, int[] OutShape)
    {
        public static (int N, int C, int H, int W) Planes(string op, Tensor x)
        {
            if (x.Dim != 3 && x.Dim != 4)
                throw new ArgumentException($"{op}: expected 3D (C, H, W) or 4D (N, C, H, W) input, got shape {Shapes.Format(x.Shape)}");
            if (x.Numel == 0) throw new ArgumentException($"{op}: input shape {Shapes.Format(x.Shape)} is empty");
            return x.Dim == 4 ? (x.Size(0), x.Size(1), x.Size(2), x.Size(3)) : (1, x.Size(0), x.Size(1), x.Size(2));
        }

        public static PoolPlan Create(string op, Tensor x, (int H, int W) k, (int H, int W) s, (int H, int W) pad)
        {
            var (n, c, h, w) = Planes(op, x);
            if (k.H < 1 || k.W < 1) throw new ArgumentException($"{op}: kernel size ({k.H}, {k.W}) must be positive");
            if (s.H < 1 || s.W < 1) throw new ArgumentException($"{op}: stride ({s.H}, {s.W}) must be positive");
            if (pad.H < 0 || pad.W < 0 || 2 * pad.H > k.H || 2 * pad.W > k.W)
                throw new ArgumentException($"{op}: pad should be at most half of kernel size, but got pad=({pad.H}, {pad.W}) and kernel_size=({k.H}, {k.W})");
            int oh = PoolingKernels.OutputSize(h, k.H, s.H, pad.H), ow = PoolingKernels.OutputSize(w, k.W, s.W, pad.W);
            if (h + 2 * pad.H < k.H || w + 2 * pad.W < k.W)
                throw new ArgumentException($"{op}: input {Shapes.Format(x.Shape)} is too small for kernel ({k.H}, {k.W}) with padding ({pad.H}, {pad.W}): the padded plane is {h + 2 * pad.H}x{w + 2 * pad.W}");
            if (oh < 1 || ow < 1)
                throw new ArgumentException($"{op}: input {Shapes.Format(x.Shape)} is too small for kernel ({k.H}, {k.W}) with padding ({pad.H}, {pad.W}): output size would be {oh}x{ow}");
            var outShape = x.ShapeCopy(); outShape[^2] = oh; outShape[^1] = ow;
            return new PoolPlan(n, c, h, w, k.H, k.W, s.H, s.W, pad.H, pad.W, oh, ow, outShape);
        }
    }
}
