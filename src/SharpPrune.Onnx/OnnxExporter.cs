using Google.Protobuf;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Onnx.Proto;
using static SharpPrune.Onnx.GraphBuilder;

namespace SharpPrune.Onnx;

/// <summary>Options of <see cref="OnnxExporter"/>.</summary>
public sealed record OnnxExportOptions
{
    /// <summary>Fold each eval-mode BatchNorm2d that only reads a Conv2d's output into that conv's weight and bias.</summary>
    public bool FoldBatchNorm { get; init; }

    /// <summary>Batch size of the tracing pass (the exported graph takes any batch size).</summary>
    public int TraceBatch { get; init; } = 3;

    public string InputName { get; init; } = "input";
    public string OutputName { get; init; } = "output";
}

/// <summary>
/// Writes a model as an ONNX graph (opset 17, IR version 8) with a dynamic batch dimension. The model is traced
/// once (<see cref="ModelTrace"/>): each known layer becomes its ONNX op with initializers named after our
/// parameters (a pruned layer's <c>weight</c> is the masked one, so masks are baked in), and the ops containers
/// run between layers (residual adds, flattens, concats) come from the recorded autograd graph. Anything else is
/// refused with one error listing every unsupported op.
/// </summary>
public static class OnnxExporter
{
    public const int Opset = 17;
    public const long IrVersion = 8;

    public static void Save(Module model, IReadOnlyList<int> inputShape, string path, OnnxExportOptions? options = null)
    {
        var proto = Build(model, inputShape, options ?? new OnnxExportOptions());
        AtomicFile.Write(path, s => proto.WriteTo(s));
    }

    public static byte[] Serialize(Module model, IReadOnlyList<int> inputShape, OnnxExportOptions? options = null) =>
        Build(model, inputShape, options ?? new OnnxExportOptions()).ToByteArray();

    internal static ModelProto Build(Module model, IReadOnlyList<int> inputShape, OnnxExportOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(inputShape);
        if (inputShape.Any(d => d < 1)) throw new ArgumentException($"input shape ({string.Join(", ", inputShape)}) must be positive (C, H, W without the batch)");
        var trace = ModelTrace.Run(model, inputShape, options.TraceBatch);
        var emitter = new Emitter(trace, options);
        var graph = emitter.Run(model.TypeName);
        var proto = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "SharpPrune",
            ProducerVersion = typeof(OnnxExporter).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = graph,
        };
        proto.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return proto;
    }

    private sealed class Emitter
    {
        private readonly ModelTrace _trace;
        private readonly OnnxExportOptions _options;
        private readonly GraphBuilder _g = new();
        private readonly Dictionary<Tensor, string> _names = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Tensor, int> _uses;

        public Emitter(ModelTrace trace, OnnxExportOptions options)
        {
            _trace = trace; _options = options;
            _uses = trace.UseCounts();
        }

        public GraphProto Run(string modelName)
        {
            CheckSupported();
            _g.ReserveValue(_options.InputName);
            _g.ReserveValue(_options.OutputName);
            _names[_trace.Input] = _options.InputName;
            if (ReferenceEquals(_trace.Output, _trace.Input))
                throw new NotSupportedException($"{modelName} returns its input unchanged; there is nothing to export");
            // Post-order without recursion: ResNet-110 chains hundreds of ops.
            var stack = new Stack<(Tensor T, bool Expanded)>();
            stack.Push((_trace.Output, false));
            while (stack.Count > 0)
            {
                var (t, expanded) = stack.Pop();
                if (_names.ContainsKey(t)) continue;
                if (!expanded)
                {
                    stack.Push((t, true));
                    // Reversed, so the first input's ops come first: nodes follow the forward's order.
                    foreach (var s in Inputs(t).Reverse()) if (!_names.ContainsKey(s)) stack.Push((s, false));
                    continue;
                }
                _names[t] = Emit(t);
            }
            var graph = _g.Graph;
            graph.DocString = $"{modelName} exported by SharpPrune";
            graph.Input.Add(ValueInfo(_options.InputName, _trace.Input.Shape, "batch"));
            graph.Output.Add(ValueInfo(_options.OutputName, _trace.Output.Shape, "batch"));
            return graph;
        }

        /// <summary>One error naming every op the graph cannot express, before anything is emitted.</summary>
        private void CheckSupported()
        {
            var bad = new List<string>();
            foreach (var t in _uses.Keys.Append(_trace.Output))
            {
                if (ReferenceEquals(t, _trace.Input) || _trace.CallsByOutput.ContainsKey(t)) continue;
                if (t.GradFnName is not { } op)
                    bad.Add($"a tensor of shape {Shapes.Format(t.Shape)} that is not computed from the input (a constant or parameter used outside a supported layer)");
                else if (!OnnxOps.GraphOps.Contains(op))
                    bad.Add($"{op} (output shape {Shapes.Format(t.Shape)})");
                else if (op == "AddBackward" && t.GradFnInputs.Count != 2)
                    bad.Add($"AddBackward with a scalar (output shape {Shapes.Format(t.Shape)})");
            }
            if (bad.Count > 0)
                throw new NotSupportedException("cannot export to ONNX: the forward pass runs ops outside the supported set (layers: Conv2d, Linear, BatchNorm1d/2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Identity, PadShortcut; between layers: add, relu, flatten/reshape, concat): "
                    + string.Join("; ", bad.Distinct()));
        }

        /// <summary>The tensors emission of <paramref name="t"/> needs first (a folded conv's input, not its output).</summary>
        private IEnumerable<Tensor> Inputs(Tensor t)
        {
            if (FoldedConv(t) is { } conv) return new[] { conv.Input };
            return _trace.Sources(t);
        }

        private ModuleCall? FoldedConv(Tensor t)
        {
            if (!_options.FoldBatchNorm || !_trace.CallsByOutput.TryGetValue(t, out var call) || call.Module is not BatchNorm2d) return null;
            if (!_trace.CallsByOutput.TryGetValue(call.Input, out var conv) || conv.Module is not Conv2d) return null;
            return _uses.GetValueOrDefault(call.Input) == 1 ? conv : null;
        }

        private string Emit(Tensor t)
        {
            bool isOutput = ReferenceEquals(t, _trace.Output);
            if (_trace.CallsByOutput.TryGetValue(t, out var call))
            {
                string y = isOutput ? _options.OutputName : _g.FreshValue(call.Path);
                if (FoldedConv(t) is { } conv) EmitFolded(conv, call, y);
                else OnnxOps.ExportLayer(_g, call, _names[call.Input], y);
                return y;
            }
            string op = t.GradFnName!;
            var ins = t.GradFnInputs;
            string stem = op switch { "AddBackward" => "add", "ViewBackward" => "reshape", "ReluBackward" => "relu", _ => "concat" };
            string outName = isOutput ? _options.OutputName : _g.FreshValue(stem);
            switch (op)
            {
                case "AddBackward": _g.Node("Add", stem, new[] { _names[ins[0]], _names[ins[1]] }, outName); break;
                case "ReluBackward": _g.Node("Relu", stem, new[] { _names[ins[0]] }, outName); break;
                case "ViewBackward": OnnxOps.FlattenOrReshape(_g, stem, ins[0], t, _names[ins[0]], outName); break;
                default: Concat(ins, t, outName); break;
            }
            return outName;
        }

        private void EmitFolded(ModuleCall conv, ModuleCall bn, string y)
        {
            var c = (Conv2d)conv.Module;
            var b = (BatchNorm2d)bn.Module;
            var (mean, var) = OnnxOps.RunningStats(b, bn.Path);
            var w = c.Weight.Data;
            int outCh = c.OutChannels, per = w.Length / outCh;
            var fw = new float[w.Length];
            var fb = new float[outCh];
            for (int o = 0; o < outCh; o++)
            {
                double scale = (b.Weight?.Data[o] ?? 1f) / Math.Sqrt(var.Data[o] + b.Eps);
                for (int i = 0; i < per; i++) fw[o * per + i] = (float)(w[o * per + i] * scale);
                fb[o] = (float)(((c.Bias?.Data[o] ?? 0f) - mean.Data[o]) * scale + (b.Bias?.Data[o] ?? 0f));
            }
            OnnxOps.Conv(_g, conv.Path, c, _names[conv.Input], y, new Tensor(fw, c.Weight.ShapeCopy()), new Tensor(fb, outCh));
        }

        /// <summary>Concat; a concat of one computed tensor with zero constants is zero padding, written as Pad.</summary>
        private void Concat(IReadOnlyList<Tensor> ins, Tensor t, string outName)
        {
            int axis = ConcatAxis(ins, t);
            var computed = ins.Where(i => !ModelTrace.IsZeroConstant(i)).ToList();
            if (computed.Count == ins.Count) { _g.Node("Concat", "concat", ins.Select(i => _names[i]), outName, Int("axis", axis)); return; }
            if (computed.Count != 1)
                throw new NotSupportedException($"a concat of {computed.Count} computed tensors with zero constants (output {Shapes.Format(t.Shape)}) cannot be exported; only zero padding of one tensor can");
            int at = ins.ToList().FindIndex(i => ReferenceEquals(i, computed[0]));
            var pads = new long[2 * t.Dim];
            pads[axis] = ins.Take(at).Sum(i => i.Size(axis));
            pads[t.Dim + axis] = ins.Skip(at + 1).Sum(i => i.Size(axis));
            string p = _g.Int64Initializer(_g.FreshValue("pad.pads"), pads);
            _g.Node("Pad", "pad", new[] { _names[computed[0]], p }, outName, GraphBuilder.String("mode", "constant"));
        }

        /// <summary>Concat's axis from the shapes: the one axis whose output size is the sum of the inputs'.</summary>
        private static int ConcatAxis(IReadOnlyList<Tensor> ins, Tensor output)
        {
            var axes = Enumerable.Range(0, output.Dim).Where(a =>
                ins.Sum(i => i.Size(a)) == output.Size(a)
                && Enumerable.Range(0, output.Dim).All(o => o == a || ins.All(i => i.Size(o) == output.Size(o)))).ToList();
            if (axes.Count != 1 || axes[0] == 0)
                throw new NotSupportedException($"cannot tell which axis a concat of {string.Join(" and ", ins.Select(i => Shapes.Format(i.Shape)))} into {Shapes.Format(output.Shape)} ran along (or it is the batch axis)");
            return axes[0];
        }
    }
}
