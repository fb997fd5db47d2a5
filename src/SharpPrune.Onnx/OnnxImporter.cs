using Google.Protobuf;
using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Onnx.Proto;
using SharpPrune.Vision.Models;

namespace SharpPrune.Onnx;

/// <summary>
/// Reads an ONNX model into an <see cref="OnnxGraphModule"/> of SharpPrune layers. Supported ops (default domain,
/// opset 11 or newer): Conv, Gemm, BatchNormalization, Relu, MaxPool, AveragePool, GlobalAveragePool, Flatten,
/// Reshape, Add, Concat, Pad (constant zeros), Identity, Dropout, Gather along the channels with constant indices
/// (a shrunk model's routed shortcut, imported as a <see cref="PadShortcut"/> with a channel map), and the
/// shape arithmetic PyTorch's exporter emits (Constant, Shape, Gather, Unsqueeze, ConstantOfShape). Anything else: one
/// error listing every unsupported op. The graph is run once on a zero input while it is built, so shape mismatches are reported at load time.
/// To add an op: an entry in <see cref="Build"/>'s switch (and its export in <see cref="OnnxOps"/>).
/// </summary>
public static class OnnxImporter
{
    /// <summary>Protobuf nesting limit (ONNX graphs SharpPrune reads nest only a few levels).</summary>
    private const int RecursionLimit = 32;

    public static readonly IReadOnlySet<string> SupportedOps = new HashSet<string>
    {
        "Conv", "Gemm", "BatchNormalization", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten", "Reshape",
        "Add", "Concat", "Pad", "Identity", "Dropout", "Constant", "Shape", "Gather", "Unsqueeze", "ConstantOfShape",
    };

    public static OnnxGraphModule Load(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists) throw new FileNotFoundException($"ONNX file '{path}' does not exist", path);
        if (info.Length > Array.MaxLength) throw new OnnxFormatException($"{path}: {info.Length} bytes is larger than SharpPrune reads in one piece");
        return Read(File.ReadAllBytes(path), path);
    }

    public static OnnxGraphModule Read(byte[] bytes, string source)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.WithDiscardUnknownFields(true).ParseFrom(ReadLimited(bytes));
        }
        catch (InvalidProtocolBufferException e)
        {
            throw new OnnxFormatException($"{source}: not a valid ONNX model ({e.Message})", e);
        }
        return Build(model, source);
    }

    private static CodedInputStream ReadLimited(byte[] bytes) => CodedInputStream.CreateWithLimits(new MemoryStream(bytes, false), bytes.Length, RecursionLimit);

    private static OnnxGraphModule Build(ModelProto model, string source)
    {
        var g = model.Graph ?? throw new OnnxFormatException($"{source}: the model has no graph");
        long opset = model.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(0).Max();
        if (opset < 11) throw new OnnxFormatException($"{source}: opset {opset} is older than 11, the oldest SharpPrune reads (re-export with a newer opset)");

        var unsupported = g.Node.Where(n => (n.Domain is not ("" or "ai.onnx")) || !SupportedOps.Contains(n.OpType))
            .Select(n => n.Domain is "" or "ai.onnx" ? n.OpType : $"{n.Domain}.{n.OpType}").Distinct().ToList();
        if (unsupported.Count > 0)
            throw new OnnxFormatException($"{source}: unsupported ONNX ops: {string.Join(", ", unsupported)} (supported: {string.Join(", ", SupportedOps)})");

        var initializers = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var t in g.Initializer)
        {
            if (!initializers.TryAdd(t.Name, OnnxTensors.ToTensor(t, source)))
                throw new OnnxFormatException($"{source}: initializer '{t.Name}' is defined twice");
        }
        var inputs = g.Input.Where(i => !initializers.ContainsKey(i.Name)).ToList();
        if (inputs.Count != 1) throw new OnnxFormatException($"{source}: the graph has {inputs.Count} inputs besides its initializers; SharpPrune imports single-input models");
        if (g.Output.Count != 1) throw new OnnxFormatException($"{source}: the graph has {g.Output.Count} outputs; SharpPrune imports single-output models");
        var inputShape = InputShape(inputs[0], source);

        var builder = new Builder(source, initializers);
        var module = builder.Run(g, inputs[0].Name, inputShape, g.Output[0].Name);
        return module;
    }

    private static int[] InputShape(ValueInfoProto input, string source)
    {
        var dims = input.Type?.TensorType?.Shape?.Dim;
        if (dims == null || dims.Count < 2)
            throw new OnnxFormatException($"{source}: input '{input.Name}' has no shape (batch, …); SharpPrune needs the sample shape");
        var shape = new int[dims.Count - 1];
        for (int i = 1; i < dims.Count; i++)
        {
            if (!dims[i].HasDimValue || dims[i].DimValue < 1 || dims[i].DimValue > 1 << 20)
                throw new OnnxFormatException($"{source}: input '{input.Name}' dimension {i} is {(dims[i].HasDimValue ? dims[i].DimValue.ToString() : $"'{dims[i].DimParam}'")}; only the batch dimension may be symbolic");
            shape[i - 1] = (int)dims[i].DimValue;
        }
        if (shape.Aggregate(1L, (p, d) => p * d) > GraphOps.MaxComputedElements)
            throw new OnnxFormatException($"{source}: input '{input.Name}' of shape ({string.Join(", ", shape)}) per sample exceeds {GraphOps.MaxComputedElements} elements");
        return shape;
    }

    /// <summary>
    /// Turns each node into a <see cref="GraphStep"/> (and, for a layer node, a <see cref="GraphLayer"/> built through
    /// <see cref="GraphLayer.Create"/>, as a checkpoint's graph description is), running it once on a zero sample to check it.
    /// </summary>
    private sealed class Builder(string source, Dictionary<string, Tensor> initializers)
    {
        private readonly Dictionary<string, Tensor> _values = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Tensor> _constants = new(StringComparer.Ordinal);
        private readonly HashSet<string> _usedInitializers = new(StringComparer.Ordinal);
        /// <summary>Pad outputs that only append zero channels: value name → (the Pad's input, its channel count).</summary>
        private readonly Dictionary<string, (string Input, int Channels)> _channelPads = new(StringComparer.Ordinal);
        /// <summary>Pad steps a channel routing read through; dropped at the end when nothing else reads them.</summary>
        private readonly HashSet<string> _fusedPads = new(StringComparer.Ordinal);
        private OnnxGraphModule _module = null!;
        private readonly GraphOps.CheckBudget _budget = new();

        public OnnxGraphModule Run(GraphProto g, string inputName, int[] inputShape, string outputName)
        {
            _module = new OnnxGraphModule(inputName, inputShape, outputName, _constants);
            using var _ = GradMode.NoGrad();
            _values[inputName] = Tensor.Zeros(new[] { 1 }.Concat(inputShape).ToArray());
            foreach (var n in g.Node)
            {
                if (n.Output.Count < 1 || n.Output[0].Length == 0) throw Error(n, "has no output");
                try { Node(n); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or KeyNotFoundException or OverflowException)
                {
                    throw Error(n, e.Message, e);
                }
            }
            if (!_values.ContainsKey(outputName)) throw new OnnxFormatException($"{source}: graph output '{outputName}' is not computed by any node");
            var steps = _module.Steps;
            steps.RemoveAll(s => _fusedPads.Contains(s.Output) && s.Output != outputName && !steps.Any(t => t.Inputs.Contains(s.Output)));
            _module.Eval();
            return _module;
        }

        private OnnxFormatException Error(NodeProto n, string what, Exception? inner = null) =>
            new($"{source}: node '{n.Name}' ({n.OpType}): {what}", inner);

        private Tensor Value(NodeProto n, int i) =>
            i < n.Input.Count && n.Input[i].Length > 0 ? Value(n, n.Input[i]) : throw Error(n, $"input {i} is missing");

        private Tensor Value(NodeProto n, string name)
        {
            if (_values.TryGetValue(name, out var v)) return v;
            if (initializers.TryGetValue(name, out var t)) { _constants[name] = t; _values[name] = t; return t; }
            throw Error(n, $"input '{name}' is not produced before it is used (the graph must be topologically sorted)");
        }

        private Tensor Initializer(NodeProto n, int i)
        {
            if (i >= n.Input.Count || !initializers.TryGetValue(n.Input[i], out var t))
                throw Error(n, $"input {i} ('{(i < n.Input.Count ? n.Input[i] : "")}') must be an initializer (a weight), not computed");
            _usedInitializers.Add(n.Input[i]);
            return t;
        }

        private bool HasInput(NodeProto n, int i) => i < n.Input.Count && n.Input[i].Length > 0;

        /// <summary>Adds a step for node <paramref name="n"/> and runs it once on the sample values.</summary>
        private void Add(NodeProto n, string op, string[] inputs, Func<GraphStep, GraphStep>? with = null)
        {
            var step = new GraphStep(n.Name, op, inputs, n.Output[0]);
            if (with != null) step = with(step);
            var ins = inputs.Select(name => Value(n, name)).ToArray();
            _values[step.Output] = GraphOps.Run(step, _module, ins, _budget);
            _module.Steps.Add(step);
        }

        /// <summary>A constant value (shape arithmetic on constants is folded at import; the batch size is not a constant).</summary>
        private void Constant(NodeProto n, Tensor value) { _values[n.Output[0]] = value; _constants[n.Output[0]] = value; }

        /// <summary>A layer module at a path named after the weight (our exports), else after the node's scope.</summary>
        private string LayerPath(NodeProto n, string? weightName, string kind)
        {
            string? path = null;
            if (weightName != null && weightName.EndsWith(".weight", StringComparison.Ordinal) && !weightName.Contains("::"))
                path = weightName[..^".weight".Length];
            path ??= ScopePath(n.Name);
            path ??= Sanitize(weightName ?? n.Output[0]);
            if (path.Length == 0) path = kind;
            string p = path;
            for (int i = 2; !_module.PathIsFree(p); i++) p = $"{path}_{i}";
            return p;
        }

        /// <summary>PyTorch's node names ("/layer1/layer1.0/conv1/Conv") as a module path ("layer1.0.conv1").</summary>
        private static string? ScopePath(string nodeName)
        {
            var parts = nodeName.Split('/', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2) return null;
            string cur = "";
            foreach (var s in parts[..^1])
                cur = cur.Length > 0 && s.StartsWith(cur + ".", StringComparison.Ordinal) ? s : cur.Length == 0 ? s : cur + "." + s;
            return cur.Split('.').All(p => p.Length > 0) ? Sanitize(cur, keepDots: true) : null;
        }

        private static string Sanitize(string s, bool keepDots = false) =>
            new(s.Select(c => char.IsAsciiLetterOrDigit(c) || c == '_' || (keepDots && c == '.') ? c : '_').ToArray());

        /// <summary>
        /// A layer step: the module <paramref name="layer"/> describes, built by <see cref="GraphLayer.Create"/> from
        /// the shapes of <paramref name="tensors"/> (local name → value) and filled with them, at a path named after
        /// <paramref name="weightName"/> or the node.
        /// </summary>
        private void Layer(NodeProto n, string? weightName, string kind, GraphLayer layer, string input, params (string Name, Tensor Value)[] tensors)
        {
            string path = LayerPath(n, weightName, kind);
            layer = layer with { Path = path };
            var module = layer.Create(name => tensors.FirstOrDefault(t => t.Name == name).Value?.ShapeCopy());
            module.Eval(); // the zero sample runs in inference mode (batch norm with its running statistics)
            foreach (var (name, value) in tensors)
            {
                var dst = module[name]!;
                if (dst.Numel != value.Numel) throw Error(n, $"{name} has {value.Numel} elements ({Shapes.Format(value.Shape)}); the layer needs {Shapes.Format(dst.Shape)}");
                value.Data.CopyTo(dst.Data);
            }
            _module.AddLayer(path, module);
            Add(n, GraphOps.Layer, new[] { input }, s => s with { Layer = path });
        }

        private void Node(NodeProto n)
        {
            var a = new Attributes(n, source);
            switch (n.OpType)
            {
                case "Conv": Conv(n, a); break;
                case "Gemm": Gemm(n, a); break;
                case "BatchNormalization": BatchNorm(n, a); break;
                case "Relu": Add(n, GraphOps.Relu, new[] { n.Input[0] }); break;
                case "MaxPool":
                    {
                        var (k, s, p) = Pool(n, a);
                        if (a.Int("ceil_mode", 0) != 0 || a.Ints("dilations", new long[] { 1, 1 }).Any(d => d != 1) || a.Int("storage_order", 0) != 0)
                            throw Error(n, "only ceil_mode=0, dilation 1 and row-major storage are supported");
                        Layer(n, null, "maxpool", new GraphLayer("", "MaxPool2d") { Kernel = k, Stride = s, Padding = p }, n.Input[0]);
                        break;
                    }
                case "AveragePool":
                    {
                        var (k, s, p) = Pool(n, a);
                        if (a.Int("ceil_mode", 0) != 0) throw Error(n, "only ceil_mode=0 is supported");
                        if (p != (0, 0) && a.Int("count_include_pad", 0) == 0) throw Error(n, "padding that is left out of the average (count_include_pad=0) is not supported");
                        Layer(n, null, "avgpool", new GraphLayer("", "AvgPool2d") { Kernel = k, Stride = s, Padding = p }, n.Input[0]);
                        break;
                    }
                case "GlobalAveragePool": Layer(n, null, "avgpool", new GraphLayer("", "AdaptiveAvgPool2d"), n.Input[0]); break;
                case "Flatten":
                    {
                        long axis = a.Int("axis", 1);
                        if (axis != 1) throw Error(n, $"Flatten axis {axis}: only axis 1 (keep the batch) is supported");
                        Layer(n, null, "flatten", new GraphLayer("", "Flatten"), n.Input[0]);
                        break;
                    }
                case "Reshape":
                    if (a.Int("allowzero", 0) != 0) throw Error(n, "allowzero=1 is not supported");
                    Add(n, GraphOps.Reshape, new[] { n.Input[0], n.Input[1] });
                    break;
                case "Add": Add(n, GraphOps.Add, new[] { n.Input[0], n.Input[1] }); break;
                case "Concat":
                    {
                        long axis = a.Int("axis", long.MinValue);
                        if (axis == long.MinValue) throw Error(n, "Concat needs an axis");
                        var ins = n.Input.ToArray();
                        if (ins.All(i => IsConstant(i))) { Constant(n, Tensor.Concat(ins.Select((_, i) => Value(n, i)).ToList(), (int)axis)); break; }
                        Add(n, GraphOps.Concat, ins, s => s with { Ints = [axis] });
                        break;
                    }
                case "Pad": Pad(n, a); break;
                case "Identity":
                case "Dropout":
                    if (n.Output.Count > 1 && n.Output.Skip(1).Any(o => o.Length > 0)) throw Error(n, "a Dropout mask output is not supported");
                    Add(n, GraphOps.Identity, new[] { n.Input[0] });
                    break;
                case "Constant": Constant(n, a.ConstantValue()); break;
                case "Shape":
                    if (a.Has("start") || a.Has("end")) throw Error(n, "Shape with start/end is not supported");
                    Add(n, GraphOps.Shape, new[] { n.Input[0] });
                    break;
                case "Gather":
                    {
                        long axis = a.Int("axis", 0);
                        if (axis == 0) { Add(n, GraphOps.Gather, new[] { n.Input[0], n.Input[1] }); break; }
                        if (Value(n, 0).Dim == 4 && GraphOps.Axis(axis, 4) == 1 && HasInput(n, 1) && IsConstant(n.Input[1])) { ChannelGather(n); break; }
                        throw Error(n, $"Gather along axis {axis} is not supported: only axis 0 (of a shape), or axis 1 (the channels of an (N, C, H, W) tensor) with constant indices");
                    }
                case "Unsqueeze":
                    {
                        long[] axes = HasInput(n, 1) ? OnnxTensors.Ints(Value(n, 1)) : a.Ints("axes", Array.Empty<long>());
                        Add(n, GraphOps.Unsqueeze, new[] { n.Input[0] }, s => s with { Ints = axes });
                        break;
                    }
                case "ConstantOfShape":
                    {
                        float v = a.Has("value") ? a.Tensor("value").ToArray().Single() : 0f;
                        Add(n, GraphOps.ConstantOfShape, new[] { n.Input[0] }, s => s with { Value = v });
                        break;
                    }
                default: throw Error(n, "unsupported op"); // listed before building
            }
        }

        private bool IsConstant(string name) => _constants.ContainsKey(name) || initializers.ContainsKey(name);

        private void Conv(NodeProto n, Attributes a)
        {
            var w = Initializer(n, 1);
            if (w.Dim != 4) throw Error(n, $"weight of shape {Shapes.Format(w.Shape)}: only 2-D convolutions are supported");
            if (a.String("auto_pad", "NOTSET") != "NOTSET") throw Error(n, "auto_pad is not supported; export with explicit pads");
            int groups = (int)a.Int("group", 1);
            var k = a.Ints("kernel_shape", new long[] { w.Size(2), w.Size(3) });
            if (k.Length != 2 || k[0] != w.Size(2) || k[1] != w.Size(3)) throw Error(n, $"kernel_shape ({string.Join(", ", k)}) does not match the weight {Shapes.Format(w.Shape)}");
            var s = Pair(n, a.Ints("strides", new long[] { 1, 1 }), "strides");
            var d = Pair(n, a.Ints("dilations", new long[] { 1, 1 }), "dilations");
            var p = SymmetricPads(n, a.Ints("pads", new long[] { 0, 0, 0, 0 }));
            var b = HasInput(n, 2) ? Initializer(n, 2) : null;
            var conv = new GraphLayer("", "Conv2d") { Stride = s, Padding = p, Dilation = d, Groups = groups, Bias = b != null };
            Layer(n, n.Input[1], "conv", conv, n.Input[0], b != null ? [("weight", w), ("bias", b)] : [("weight", w)]);
        }

        private void Gemm(NodeProto n, Attributes a)
        {
            if (a.Int("transA", 0) != 0 || a.Float("alpha", 1f) != 1f || a.Float("beta", 1f) != 1f)
                throw Error(n, "only Gemm with transA=0, alpha=1, beta=1 (a linear layer) is supported");
            var w = Initializer(n, 1);
            if (w.Dim != 2) throw Error(n, $"weight of shape {Shapes.Format(w.Shape)} is not a matrix");
            bool transB = a.Int("transB", 0) != 0;
            int outF = transB ? w.Size(0) : w.Size(1), inF = transB ? w.Size(1) : w.Size(0);
            var b = HasInput(n, 2) ? Initializer(n, 2) : null;
            if (b != null && b.Numel != outF) throw Error(n, $"bias of {b.Numel} elements for {outF} outputs (only a per-output bias is supported)");
            var weight = transB ? w : Transpose(w);
            Layer(n, n.Input[1], "fc", new GraphLayer("", "Linear") { Bias = b != null }, n.Input[0], b != null ? [("weight", weight), ("bias", b.Reshape(outF))] : [("weight", weight)]);
        }

        private void BatchNorm(NodeProto n, Attributes a)
        {
            if (a.Int("training_mode", 0) != 0) throw Error(n, "training_mode=1 is not supported");
            var x = Value(n, 0);
            Tensor scale = Initializer(n, 1), bias = Initializer(n, 2), mean = Initializer(n, 3), var = Initializer(n, 4);
            string type = x.Dim switch { 4 => "BatchNorm2d", 2 or 3 => "BatchNorm1d", _ => throw Error(n, $"input of rank {x.Dim}") };
            var bn = new GraphLayer("", type) { Eps = a.Float("epsilon", 1e-5f) };
            int c = mean.Numel;
            Layer(n, n.Input[1], "bn", bn, n.Input[0], ("weight", scale.Reshape(scale.Numel)), ("bias", bias.Reshape(bias.Numel)), ("running_mean", mean.Reshape(c)), ("running_var", var.Reshape(var.Numel)));
        }

        private void Pad(NodeProto n, Attributes a)
        {
            if (a.String("mode", "constant") != "constant") throw Error(n, "only constant padding is supported");
            var x = Value(n, 0);
            long[] pads = HasInput(n, 1) ? OnnxTensors.Ints(Value(n, 1)) : a.Ints("pads", Array.Empty<long>());
            if (HasInput(n, 2) && Value(n, 2).ToArray().Any(v => v != 0)) throw Error(n, "only zero padding is supported");
            if (HasInput(n, 3)) throw Error(n, "Pad with axes is not supported");
            Add(n, GraphOps.Pad, new[] { n.Input[0] }, s => s with { Ints = pads });
            if (x.Dim == 4 && pads.Select((p, i) => p == 0 || i == x.Dim + 1).All(b => b))
                _channelPads[n.Output[0]] = (n.Input[0], x.Size(1));
        }

        /// <summary>
        /// Gather along the channels with constant indices: a <see cref="PadShortcut"/> (stride 1) with that
        /// channel map, so the imported model stays made of our layers (it can be shrunk and exported again). When the
        /// data is a Pad that appended zero channels (how a routed shortcut is exported), the indices that read those
        /// become the map's zero channels and the routing reads the Pad's input. The map must send every input channel
        /// to exactly one output, which is what a shrunk model's shortcut does; anything else is refused.
        /// </summary>
        private void ChannelGather(NodeProto n)
        {
            var indices = Value(n, 1);
            if (indices.Dim != 1) throw Error(n, $"Gather along the channels with indices of shape {Shapes.Format(indices.Shape)}: a 1-D list of channels is expected");
            int channels = Value(n, 0).Size(1);
            var map = OnnxTensors.Ints(indices).Select(i => i >= -channels && i < channels ? (int)(i < 0 ? i + channels : i)
                : throw Error(n, $"Gather index {i} is out of range for {channels} channels")).ToArray();
            string input = n.Input[0];
            if (_channelPads.TryGetValue(input, out var pad))
            {
                _fusedPads.Add(input);
                map = map.Select(i => i >= pad.Channels ? -1 : i).ToArray();
                (input, channels) = pad;
            }
            try { Layer(n, null, "shortcut", new GraphLayer("", "PadShortcut") { InChannels = channels, Sources = map }, input); }
            catch (ArgumentException e)
            {
                throw Error(n, $"Gather along the channels is imported as a channel routing, which this one is not ({e.Message}): each input channel must reach exactly one output channel, the others being zeros");
            }
        }

        private (int H, int W) Pair(NodeProto n, long[] v, string what) =>
            v.Length == 2 && v.All(x => x >= 1 && x <= 1 << 16) ? ((int)v[0], (int)v[1]) : throw Error(n, $"{what} ({string.Join(", ", v)}): two positive values expected");

        private (int H, int W) SymmetricPads(NodeProto n, long[] p)
        {
            if (p.Length != 4 || p.Any(x => x < 0 || x > 1 << 16)) throw Error(n, $"pads ({string.Join(", ", p)}): four non-negative values expected");
            if (p[0] != p[2] || p[1] != p[3]) throw Error(n, $"asymmetric pads ({string.Join(", ", p)}) are not supported");
            return ((int)p[0], (int)p[1]);
        }

        private ((int, int) K, (int, int) S, (int, int) P) Pool(NodeProto n, Attributes a)
        {
            if (a.String("auto_pad", "NOTSET") != "NOTSET") throw Error(n, "auto_pad is not supported");
            var k = Pair(n, a.Ints("kernel_shape", Array.Empty<long>()), "kernel_shape");
            return (k, Pair(n, a.Ints("strides", new long[] { 1, 1 }), "strides"), SymmetricPads(n, a.Ints("pads", new long[] { 0, 0, 0, 0 })));
        }

        private static Tensor Transpose(Tensor w)
        {
            int r = w.Size(0), c = w.Size(1);
            var t = new float[w.Numel];
            for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) t[j * r + i] = w.Data[i * c + j];
            return new Tensor(t, c, r);
        }
    }

    /// <summary>A node's attributes by name, typed on access with a clear error.</summary>
    private sealed class Attributes(NodeProto n, string source)
    {
        private readonly Dictionary<string, AttributeProto> _byName = n.Attribute.GroupBy(x => x.Name).ToDictionary(x => x.Key, x => x.Last());

        public bool Has(string name) => _byName.ContainsKey(name);
        public long Int(string name, long dflt) => _byName.TryGetValue(name, out var a) ? a.I : dflt;
        public float Float(string name, float dflt) => _byName.TryGetValue(name, out var a) ? a.F : dflt;
        public long[] Ints(string name, long[] dflt) => _byName.TryGetValue(name, out var a) ? a.Ints.ToArray() : dflt;
        public string String(string name, string dflt) => _byName.TryGetValue(name, out var a) ? a.S.ToStringUtf8() : dflt;

        public Tensor Tensor(string name) =>
            _byName.TryGetValue(name, out var a) && a.T != null ? OnnxTensors.ToTensor(a.T, source)
                : throw new OnnxFormatException($"{source}: node '{n.Name}' ({n.OpType}) has no tensor attribute '{name}'");

        public Tensor ConstantValue()
        {
            if (Has("value")) return Tensor("value");
            if (_byName.TryGetValue("value_float", out var f)) return SharpPrune.Tensor.Scalar(f.F);
            if (_byName.TryGetValue("value_int", out var i)) return SharpPrune.Tensor.Scalar(i.I);
            if (_byName.TryGetValue("value_floats", out var fs)) return SharpPrune.Tensor.FromArray(fs.Floats.ToArray(), fs.Floats.Count);
            if (_byName.TryGetValue("value_ints", out var iss)) return SharpPrune.Tensor.FromArray(iss.Ints.Select(v => (float)v).ToArray(), iss.Ints.Count);
            throw new OnnxFormatException($"{source}: Constant node '{n.Name}' has no supported value attribute");
        }
    }
}
