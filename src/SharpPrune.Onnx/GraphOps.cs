namespace SharpPrune.Onnx;

/// <summary>
/// The ops an imported graph's steps run between its layers, each a plain function of its input tensors and the
/// step's attributes (so a step is data: <see cref="GraphSpec"/> records it and the importer and a checkpoint build
/// the same thing). Differentiable ones (add, relu, concat, reshape, pad) go through autograd; shape arithmetic
/// (shape, gather, unsqueeze, constant_of_shape) works on small constant tensors. To add an op: a name here, its
/// arity in <see cref="Arity"/>, its attribute in <see cref="IntsAttribute"/> if it has one, a case in
/// <see cref="Run"/>, and the ONNX node that makes it in <see cref="OnnxImporter"/>.
/// </summary>
public static class GraphOps
{
    public const string Layer = "layer", Relu = "relu", Add = "add", Concat = "concat", Reshape = "reshape", Identity = "identity",
        Shape = "shape", Gather = "gather", Unsqueeze = "unsqueeze", ConstantOfShape = "constant_of_shape", Pad = "pad";

    /// <summary>Largest tensor a graph may compute from shapes (ConstantOfShape, Pad) or take as one sample: 2^26 floats.</summary>
    public const int MaxComputedElements = 1 << 26;

    /// <summary>Each op's number of inputs (min, max).</summary>
    public static readonly IReadOnlyDictionary<string, (int Min, int Max)> Arity = new Dictionary<string, (int, int)>
    {
        [Layer] = (1, 1), [Relu] = (1, 1), [Add] = (2, 2), [Concat] = (1, 1 << 16), [Reshape] = (2, 2), [Identity] = (1, 1),
        [Shape] = (1, 1), [Gather] = (2, 2), [Unsqueeze] = (1, 1), [ConstantOfShape] = (1, 1), [Pad] = (1, 1),
    };

    /// <summary>The JSON name of an op's integer attribute (<see cref="GraphStep.Ints"/>), or null when it has none.</summary>
    public static string? IntsAttribute(string op) => op switch { Concat => "axis", Unsqueeze => "axes", Pad => "pads", _ => null };

    /// <summary>
    /// Runs <paramref name="s"/> on <paramref name="x"/>; a layer step calls the model's module at its path through
    /// <see cref="NN.Module.Forward"/>. An op whose output would exceed <see cref="MaxComputedElements"/> per sample is
    /// refused before it allocates (a graph from a file must not make a small file compute gigabytes).
    /// </summary>
    public static Tensor Run(GraphStep s, OnnxGraphModule model, Tensor[] x) => Run(s, model, x, null);

    /// <summary>As <see cref="Run(GraphStep, OnnxGraphModule, Tensor[])"/>, charging the output to <paramref name="budget"/> (the one-sample check of a graph read from a file).</summary>
    internal static Tensor Run(GraphStep s, OnnxGraphModule model, Tensor[] x, CheckBudget? budget)
    {
        long elements = CheckOutputSize(s, model, x);
        budget?.Spend(elements, s);
        return Compute(s, model, x);
    }

    /// <summary>
    /// What the one-sample run that checks a graph read from a file may compute in all: <see cref="MaxCheckElements"/>
    /// per sample over every step (large real models need a few tens of millions), so that many steps of allowed size
    /// cannot add up to gigabytes either.
    /// </summary>
    internal sealed class CheckBudget
    {
        private long _spent;

        public void Spend(long elements, GraphStep s)
        {
            _spent += elements;
            if (_spent > MaxCheckElements)
                throw new ArgumentException($"by step '{MessageText.Name(s.Node)}' ({s.Op}) the graph computes more than {MaxCheckElements:N0} elements per sample");
        }
    }

    /// <summary>Elements a graph's check run may compute per sample over all its steps: 2^28.</summary>
    public const long MaxCheckElements = 1L << 28;

    private static Tensor Compute(GraphStep s, OnnxGraphModule model, Tensor[] x) => s.Op switch
    {
        Layer => model.GetSubmodule(s.Layer!).Forward(x[0]),
        Relu => x[0].Relu(),
        Add => x[0].Add(x[1]),
        Concat => Tensor.Concat(x, Axis(s.Ints![0], x[0].Dim)),
        Reshape => ReshapeTo(x[0], OnnxTensors.Ints(x[1])),
        Identity => x[0],
        Shape => Tensor.FromArray(x[0].Shape.Select(d => (float)d).ToArray(), x[0].Dim),
        Gather => GatherShape(x[0], x[1]),
        Unsqueeze => UnsqueezeAxes(x[0], s.Ints!),
        ConstantOfShape => Tensor.Full(CheckedShape(OnnxTensors.Ints(x[0])), s.Value),
        Pad => ZeroPad(x[0], s.Ints!),
        _ => throw new ArgumentException($"unknown op '{MessageText.Name(s.Op)}'"),
    };

    /// <summary>
    /// The per-sample size of a step's output, checked before computing it where it can grow beyond its inputs
    /// (convolution and pooling windows with padding, a shortcut's channels, broadcasting, concatenation); otherwise the
    /// input's size (0 for the shape arithmetic on small vectors).
    /// </summary>
    private static long CheckOutputSize(GraphStep s, OnnxGraphModule model, Tensor[] x)
    {
        if (x.Length == 0 || x[0].Dim < 2) return 0;
        long batch = Math.Max(1, x[0].Size(0)), input = x[0].Numel / batch;
        long perSample = s.Op switch
        {
            Layer => LayerOutput(model.GetSubmodule(s.Layer!), x[0]) ?? input,
            Add => Shapes.Broadcast(x[0].Shape, x[1].Shape).Aggregate(1L, (p, d) => p * d) / batch,
            Concat => x.Sum(t => (long)t.Numel) / batch,
            _ => input,
        };
        CheckSampleSize(perSample, $"the output of step '{MessageText.Name(s.Node)}' ({s.Op})");
        return perSample;
    }

    /// <summary>Elements per sample a layer would produce from <paramref name="x"/>; null for layers that never grow their input.</summary>
    private static long? LayerOutput(NN.Module layer, Tensor x)
    {
        if (x.Dim != 4) return null;
        long Window(int size, int kernel, int stride, int padding, int dilation) => Math.Max(0, ((long)size + 2L * padding - (long)dilation * (kernel - 1) - 1) / stride + 1);
        int h = x.Size(2), w = x.Size(3);
        return layer switch
        {
            NN.Conv2d c => c.OutChannels * Window(h, c.KernelSize.H, c.Stride.H, c.Padding.H, c.Dilation.H) * Window(w, c.KernelSize.W, c.Stride.W, c.Padding.W, c.Dilation.W),
            NN.MaxPool2d p => x.Size(1) * Window(h, p.KernelSize.H, p.Stride.H, p.Padding.H, 1) * Window(w, p.KernelSize.W, p.Stride.W, p.Padding.W, 1),
            NN.AvgPool2d p => x.Size(1) * Window(h, p.KernelSize.H, p.Stride.H, p.Padding.H, 1) * Window(w, p.KernelSize.W, p.Stride.W, p.Padding.W, 1),
            Vision.Models.PadShortcut p => (long)p.OutChannels * ((h + p.Stride - 1) / p.Stride) * ((w + p.Stride - 1) / p.Stride),
            _ => null,
        };
    }

    /// <summary>Refuses a per-sample size above <see cref="MaxComputedElements"/>.</summary>
    internal static void CheckSampleSize(long elements, string what)
    {
        if (elements > MaxComputedElements) throw new ArgumentException($"{what} has {elements:N0} elements per sample, more than {MaxComputedElements:N0}");
    }

    internal static int Axis(long axis, int rank) =>
        axis >= -rank && axis < rank ? (int)(axis < 0 ? axis + rank : axis) : throw new ArgumentException($"axis {axis} is out of range for rank {rank}");

    private static Tensor ReshapeTo(Tensor x, long[] shape)
    {
        var s = new int[shape.Length];
        for (int i = 0; i < s.Length; i++)
            s[i] = shape[i] == 0 ? (i < x.Dim ? x.Size(i) : throw new ArgumentException($"reshape 0 at axis {i} of a rank-{x.Dim} input"))
                : checked((int)shape[i]);
        return x.Reshape(s);
    }

    /// <summary>A shape computed by the graph, refused when negative or larger than <see cref="MaxComputedElements"/>.</summary>
    private static int[] CheckedShape(long[] dims)
    {
        long numel = 1;
        foreach (long d in dims)
        {
            if (d < 0 || d > int.MaxValue) throw new ArgumentException($"computed shape ({string.Join(", ", dims)}) has a dimension out of range");
            numel *= d;
            if (numel > MaxComputedElements) throw new ArgumentException($"computed shape ({string.Join(", ", dims)}) exceeds {MaxComputedElements} elements");
        }
        return dims.Select(d => (int)d).ToArray();
    }

    private static Tensor GatherShape(Tensor data, Tensor indices)
    {
        if (data.Dim != 1) throw new ArgumentException($"Gather of a rank-{data.Dim} tensor: only 1-D data (a shape) is supported");
        var idx = OnnxTensors.Ints(indices).Select(i => (int)(i < 0 ? i + data.Numel : i)).ToArray();
        foreach (int i in idx) if (i < 0 || i >= data.Numel) throw new ArgumentException($"Gather index {i} is out of range for {data.Numel} elements");
        var values = idx.Select(i => data.Data[i]).ToArray();
        return indices.Dim == 0 ? Tensor.Scalar(values[0]) : Tensor.FromArray(values, indices.ShapeCopy());
    }

    private static Tensor UnsqueezeAxes(Tensor x, IReadOnlyList<long> axes)
    {
        int rank = x.Dim + axes.Count;
        var norm = axes.Select(a => Axis(a, rank)).OrderBy(a => a).ToArray();
        var shape = new List<int>(x.Shape);
        foreach (int a in norm) shape.Insert(a, 1);
        return x.Reshape(shape.ToArray());
    }

    /// <summary>
    /// Zero padding (ONNX's pads: begin per axis, then end per axis; the batch axis unpadded) as concatenation with
    /// zeros, so gradients flow and the exporter writes it back as Pad. The padded sample must stay within
    /// <see cref="MaxComputedElements"/>.
    /// </summary>
    internal static Tensor ZeroPad(Tensor x, IReadOnlyList<long> pads)
    {
        int rank = x.Dim;
        if (pads.Count != 2 * rank || pads.Any(p => p < 0 || p > MaxComputedElements))
            throw new ArgumentException($"pads ({string.Join(", ", pads)}) for a rank-{rank} input: non-negative begin and end per axis expected");
        if (pads[0] != 0 || pads[rank] != 0) throw new ArgumentException("padding the batch axis is not supported");
        long sample = 1;
        for (int axis = 1; axis < rank; axis++)
        {
            sample *= x.Size(axis) + pads[axis] + pads[axis + rank];
            CheckSampleSize(sample, "the padded tensor");
        }
        for (int axis = 1; axis < rank; axis++)
        {
            long before = pads[axis], after = pads[axis + rank];
            if (before == 0 && after == 0) continue;
            var parts = new List<Tensor>();
            if (before > 0) parts.Add(Tensor.Zeros(WithSize(x, axis, (int)before)));
            parts.Add(x);
            if (after > 0) parts.Add(Tensor.Zeros(WithSize(x, axis, (int)after)));
            x = Tensor.Concat(parts, axis);
        }
        return x;
    }

    private static int[] WithSize(Tensor x, int axis, int size) { var s = x.ShapeCopy(); s[axis] = size; return s; }
}
