using SharpPrune.NN;
using SharpPrune.Vision.Models;
using static SharpPrune.Onnx.GraphBuilder;

namespace SharpPrune.Onnx;

/// <summary>
/// Export side of the supported op set: how each layer type becomes ONNX nodes, and which ops a container may
/// run between layers (read from the autograd graph by their recorded names). To add a layer: an entry in
/// <see cref="Layers"/> (and its import in <see cref="OnnxImporter"/>); see src/SharpPrune.Onnx/README.md.
/// </summary>
internal static class OnnxOps
{
    /// <summary>Emits the nodes of one layer call reading <paramref name="input"/> into <paramref name="output"/>.</summary>
    internal delegate void LayerExport(GraphBuilder g, ModuleCall call, string input, string output);

    private static readonly Dictionary<Type, LayerExport> Layers = new()
    {
        [typeof(Conv2d)] = (g, c, x, y) => Conv(g, c.Path, (Conv2d)c.Module, x, y, weight: null, bias: null),
        [typeof(Linear)] = Gemm,
        [typeof(BatchNorm2d)] = BatchNorm,
        [typeof(BatchNorm1d)] = BatchNorm,
        [typeof(ReLU)] = (g, c, x, y) => g.Node("Relu", c.Path, new[] { x }, y),
        [typeof(MaxPool2d)] = (g, c, x, y) =>
        {
            var m = (MaxPool2d)c.Module;
            g.Node("MaxPool", c.Path, new[] { x }, y, Ints("kernel_shape", m.KernelSize.H, m.KernelSize.W),
                Ints("strides", m.Stride.H, m.Stride.W), Ints("pads", m.Padding.H, m.Padding.W, m.Padding.H, m.Padding.W));
        },
        [typeof(AvgPool2d)] = (g, c, x, y) =>
        {
            var m = (AvgPool2d)c.Module;
            g.Node("AveragePool", c.Path, new[] { x }, y, Ints("kernel_shape", m.KernelSize.H, m.KernelSize.W),
                Ints("strides", m.Stride.H, m.Stride.W), Ints("pads", m.Padding.H, m.Padding.W, m.Padding.H, m.Padding.W),
                Int("count_include_pad", 1));
        },
        [typeof(AdaptiveAvgPool2d)] = AdaptiveAvgPool,
        [typeof(Flatten)] = (g, c, x, y) => FlattenOrReshape(g, c.Path, c.Input, c.Output, x, y),
        [typeof(Dropout)] = (g, c, x, y) => g.Node("Identity", c.Path, new[] { x }, y),
        [typeof(Identity)] = (g, c, x, y) => g.Node("Identity", c.Path, new[] { x }, y),
        [typeof(PadShortcut)] = PadShortcutExport,
    };

    /// <summary>Ops a container's own forward may run between layers, by the name its autograd node records.</summary>
    public static readonly IReadOnlySet<string> GraphOps = new HashSet<string> { "AddBackward", "ViewBackward", "ReluBackward", "CatBackward" };

    public static bool IsLayer(Module m) => Layers.ContainsKey(m.GetType());

    public static void ExportLayer(GraphBuilder g, ModuleCall call, string input, string output) =>
        Layers[call.Module.GetType()](g, call, input, output);

    /// <summary>Conv; <paramref name="weight"/>/<paramref name="bias"/> replace the layer's own (BN folded into it).</summary>
    public static void Conv(GraphBuilder g, string path, Conv2d m, string x, string y, Tensor? weight, Tensor? bias)
    {
        var inputs = new List<string> { x, g.Initializer(path + ".weight", weight ?? m.Weight) };
        if ((bias ?? m.Bias) is { } b) inputs.Add(g.Initializer(path + ".bias", b));
        g.Node("Conv", path, inputs, y, Ints("kernel_shape", m.KernelSize.H, m.KernelSize.W), Ints("strides", m.Stride.H, m.Stride.W),
            Ints("pads", m.Padding.H, m.Padding.W, m.Padding.H, m.Padding.W), Ints("dilations", m.Dilation.H, m.Dilation.W),
            Int("group", m.Groups));
    }

    private static void Gemm(GraphBuilder g, ModuleCall c, string x, string y)
    {
        var m = (Linear)c.Module;
        if (c.Input.Dim != 2)
            throw new NotSupportedException($"{c.Path}: Linear on a {c.Input.Dim}-D input cannot be exported (ONNX Gemm takes (N, features)); flatten before it");
        var inputs = new List<string> { x, g.Initializer(c.Path + ".weight", m.Weight) };
        if (m.Bias is { } b) inputs.Add(g.Initializer(c.Path + ".bias", b));
        g.Node("Gemm", c.Path, inputs, y, Float("alpha", 1f), Float("beta", 1f), Int("transB", 1));
    }

    private static void BatchNorm(GraphBuilder g, ModuleCall c, string x, string y)
    {
        var m = (BatchNormBase)c.Module;
        var (mean, var) = RunningStats(m, c.Path);
        int n = m.NumFeatures;
        string scale = m.Weight is { } w ? g.Initializer(c.Path + ".weight", w) : g.Initializer(c.Path + ".weight", new[] { n }, Filled(n, 1f));
        string shift = m.Bias is { } b ? g.Initializer(c.Path + ".bias", b) : g.Initializer(c.Path + ".bias", new[] { n }, Filled(n, 0f));
        g.Node("BatchNormalization", c.Path,
            new[] { x, scale, shift, g.Initializer(c.Path + ".running_mean", mean), g.Initializer(c.Path + ".running_var", var) },
            y, Float("epsilon", (float)m.Eps));
    }

    public static (Tensor Mean, Tensor Var) RunningStats(BatchNormBase m, string path) =>
        m.RunningMean is { } mean && m.RunningVar is { } var ? (mean, var)
            : throw new NotSupportedException($"{path}: {m.TypeName} without running statistics (track_running_stats=False) normalises with batch statistics in eval mode; ONNX BatchNormalization cannot express that");

    private static float[] Filled(int n, float v) { var a = new float[n]; Array.Fill(a, v); return a; }

    private static void AdaptiveAvgPool(GraphBuilder g, ModuleCall c, string x, string y)
    {
        var m = (AdaptiveAvgPool2d)c.Module;
        if (m.OutputSize == (1, 1)) { g.Node("GlobalAveragePool", c.Path, new[] { x }, y); return; }
        int h = c.Input.Size(2), w = c.Input.Size(3);
        if (h % m.OutputSize.H != 0 || w % m.OutputSize.W != 0)
            throw new NotSupportedException($"{c.Path}: AdaptiveAvgPool2d from {h}x{w} to {m.OutputSize} has uneven windows; only divisible sizes export (as AveragePool)");
        int kh = h / m.OutputSize.H, kw = w / m.OutputSize.W;
        g.Node("AveragePool", c.Path, new[] { x }, y, Ints("kernel_shape", kh, kw), Ints("strides", kh, kw));
    }

    /// <summary>
    /// A reshape that keeps the batch dimension: Flatten(axis=1) when it makes (N, rest), else Reshape with 0 (copy
    /// the batch size) in front, so the exported graph accepts any batch size.
    /// </summary>
    public static void FlattenOrReshape(GraphBuilder g, string nodeName, Tensor input, Tensor output, string x, string y)
    {
        if (input.Dim == 0 || output.Dim == 0 || input.Size(0) != output.Size(0))
            throw new NotSupportedException($"{nodeName}: a reshape from {Shapes.Format(input.Shape)} to {Shapes.Format(output.Shape)} changes the batch dimension; it cannot be exported with a dynamic batch size");
        if (output.Dim == 2) { g.Node("Flatten", nodeName, new[] { x }, y, Int("axis", 1)); return; }
        var shape = new long[output.Dim];
        for (int i = 1; i < output.Dim; i++) shape[i] = output.Size(i);
        string s = g.Int64Initializer(g.FreshValue(nodeName + ".shape"), shape);
        g.Node("Reshape", nodeName, new[] { x, s }, y);
    }

    /// <summary>
    /// Option-A shortcut: average-pool by the stride, then the output channels in <see cref="PadShortcut.OutputSources"/>
    /// order (-1: a zero channel). The plain layout (input channels, then zeros) is one Pad; a channel map left by
    /// structured pruning is Pad by one zero channel, then Gather along axis 1 with constant indices (the zero
    /// channel's index for each -1). The traced output is checked against that reading first, so a shortcut that
    /// computes anything else is refused rather than exported wrong.
    /// </summary>
    private static void PadShortcutExport(GraphBuilder g, ModuleCall c, string x, string y)
    {
        var m = (PadShortcut)c.Module;
        var sources = m.OutputSources;
        CheckRouting(c, m, sources);
        bool plain = !m.RoutesChannels;
        string cur = x;
        if (m.Stride > 1)
        {
            string pooled = plain && m.OutChannels == m.InChannels ? y : g.FreshValue(c.Path + ".pool");
            g.Node("AveragePool", c.Path + ".pool", new[] { cur }, pooled, Ints("kernel_shape", m.Stride, m.Stride), Ints("strides", m.Stride, m.Stride));
            cur = pooled;
        }
        if (plain)
        {
            if (m.OutChannels != m.InChannels)
            {
                // Zero channels appended after the input's: pad the end of axis 1 (N, C, H, W begins, then ends).
                string pads = g.Int64Initializer(c.Path + ".pads", 0, 0, 0, 0, 0, m.OutChannels - m.InChannels, 0, 0);
                g.Node("Pad", c.Path, new[] { cur, pads }, y, String("mode", "constant"));
            }
            else if (m.Stride == 1) g.Node("Identity", c.Path, new[] { cur }, y);
            return;
        }
        // One zero channel at index InChannels serves every -1 of the map.
        string padded = g.FreshValue(c.Path + ".padded");
        g.Node("Pad", c.Path + ".pad", new[] { cur, g.Int64Initializer(c.Path + ".pads", 0, 0, 0, 0, 0, 1, 0, 0) }, padded, String("mode", "constant"));
        string index = g.Int64Initializer(c.Path + ".channels", sources.Select(src => (long)(src < 0 ? m.InChannels : src)).ToArray());
        g.Node("Gather", c.Path, new[] { padded, index }, y, Int("axis", 1));
    }

    /// <summary>The traced output must be the pooled input routed by <paramref name="sources"/>, bit for bit.</summary>
    private static void CheckRouting(ModuleCall c, PadShortcut m, IReadOnlyList<int> sources)
    {
        Tensor pooled;
        using (Autograd.GradMode.NoGrad())
            pooled = m.Stride > 1 ? F.AvgPool2d(c.Input, (m.Stride, m.Stride), (m.Stride, m.Stride), (0, 0)) : c.Input;
        var o = c.Output;
        int n = o.Size(0), hw = o.Size(2) * o.Size(3);
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < m.OutChannels; ch++)
                for (int i = 0; i < hw; i++)
                {
                    float want = sources[ch] >= 0 ? pooled.Data[(b * m.InChannels + sources[ch]) * hw + i] : 0f;
                    if (o.Data[(b * m.OutChannels + ch) * hw + i] != want)
                        throw new NotSupportedException($"{c.Path}: output channel {ch} of this PadShortcut is not {(sources[ch] >= 0 ? $"its pooled input channel {sources[ch]}" : "zero")} as its OutputSources say; the ONNX exporter cannot express what it computes");
                }
    }
}
