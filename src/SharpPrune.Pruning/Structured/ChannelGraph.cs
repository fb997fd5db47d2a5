using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Pruning.Structured;

/// <summary>
/// The model's channel dependencies, found by tracing one forward pass (as Torch-Pruning's DepGraph): layers are
/// seen through forward hooks, the ops between them (residual adds, flatten, concat, activations) through the
/// autograd graph the pass records. Every channel of every traced tensor is a node; each op joins the nodes it
/// couples (an add joins its inputs' channel c with its output's channel c; a flatten joins feature j with channel
/// j / (H·W); a conv joins its output channel c with its filter c). The connected components are the
/// <see cref="CoupledChannel"/>s, grouped by the layers they touch into <see cref="ChannelGroup"/>s. No per-model
/// rules: anything built from the supported layers and ops traces the same way.
/// </summary>
public sealed class ChannelGraph
{
    public IReadOnlyList<ChannelGroup> Groups { get; }
    /// <summary>Every traced layer with its dotted name, in module order.</summary>
    public IReadOnlyDictionary<Module, string> LayerNames { get; }

    private ChannelGraph(IReadOnlyList<ChannelGroup> groups, IReadOnlyDictionary<Module, string> names)
    {
        Groups = groups; LayerNames = names;
    }

    /// <summary>Ops traced through that keep channel c at channel c (for inputs of the output's shape).</summary>
    private static readonly HashSet<string> ChannelwiseOps = new()
    {
        "ReluBackward", "ClampBackward", "SigmoidBackward", "TanhBackward", "AbsBackward", "NegBackward", "ExpBackward",
        "LogBackward", "SqrtBackward", "PowBackward", "DropoutBackward", "MaxPool2DWithIndicesBackward", "AvgPool2DBackward",
        "AdaptiveAvgPool2DBackward", "AddBackward", "SubBackward", "MulBackward", "DivBackward",
    };

    public const string SupportedSummary =
        "layers Conv2d (groups 1 or depthwise), Linear (2-D input), BatchNorm1d/2d, ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, " +
        "Dropout, Identity, Flatten(start_dim=1), IChannelRouting modules; ops add/sub/mul/div, relu and other element-wise " +
        "functions, pooling, dropout, flatten/reshape to (N, features), concat, mean/sum over spatial dims";

    /// <summary>Traces <paramref name="model"/> on <paramref name="exampleInput"/> (batch of 1 is enough) in eval mode; the
    /// model's train/eval flags and state are left as they were.</summary>
    public static ChannelGraph Build(Module model, Tensor exampleInput)
    {
        if (!GradMode.IsEnabled)
            throw new InvalidOperationException("structured pruning traces the autograd graph: call it outside GradMode.NoGrad()");
        var tracer = new Tracer(model);
        var modes = model.NamedModules().Select(m => (m.Module, m.Module.Training)).ToList();
        var handles = new List<HookHandle>();
        Tensor output;
        try
        {
            model.Eval();
            foreach (var (name, m) in model.NamedModules())
            {
                string n = name;
                handles.Add(m.RegisterForwardHook((mod, input, output) => { tracer.OnForward(n, mod, input, output); return null; }));
            }
            var x = exampleInput.Detach().Clone().RequiresGrad_();
            tracer.Input = x;
            output = model.Forward(x);
        }
        finally
        {
            foreach (var h in handles) h.Remove();
            foreach (var (m, training) in modes) m.Train(training); // pre-order: children override their parent
        }
        return tracer.Finish(output);
    }

    private sealed class Tracer
    {
        private readonly Module _model;
        private readonly Dictionary<Module, string> _names = new(ReferenceEqualityComparer.Instance);
        private readonly HashSet<Tensor> _parameters = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Tensor, (string Name, Module Module, Tensor Input)> _layerCalls = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<Tensor, string> _scope = new(ReferenceEqualityComparer.Instance); // non-leaf tensor → innermost module that made it
        private readonly Dictionary<Tensor, int[]> _sites = new(ReferenceEqualityComparer.Instance);
        private readonly Dictionary<(Module, ChannelRole, int), int> _memberSites = new();
        private readonly List<int> _parent = new();
        private readonly Dictionary<int, string> _flags = new();
        public Tensor? Input;

        public Tracer(Module model)
        {
            _model = model;
            foreach (var (n, m) in model.NamedModules()) _names[m] = n;
            foreach (var p in model.Parameters()) _parameters.Add(p);
            foreach (var (_, b) in model.NamedBuffers()) _parameters.Add(b);
        }

        private static bool IsTracedLayer(Module m) => m is Conv2d or Linear or BatchNormBase or IChannelRouting or ReLU
            or MaxPool2d or AvgPool2d or AdaptiveAvgPool2d or Dropout or NN.Identity or Flatten;

        public void OnForward(string name, Module module, Tensor input, Tensor output)
        {
            if (IsTracedLayer(module))
            {
                if (ReferenceEquals(output, input) || _layerCalls.ContainsKey(output)) return; // a pass-through adds no coupling
                _layerCalls[output] = (name, module, input);
                _scope[output] = name;
                return;
            }
            // Attribute the ops this forward recorded (not already claimed by an inner module) to it, for error messages.
            var stack = new Stack<Tensor>();
            stack.Push(output);
            while (stack.Count > 0)
            {
                var t = stack.Pop();
                if (ReferenceEquals(t, input) || t.GradFnName is null || _scope.ContainsKey(t)) continue;
                _scope[t] = name;
                foreach (var i in t.GradFnInputs) stack.Push(i);
            }
        }

        private int NewSite() { _parent.Add(_parent.Count); return _parent.Count - 1; }
        private int Find(int a) { while (_parent[a] != a) { _parent[a] = _parent[_parent[a]]; a = _parent[a]; } return a; }
        private void Union(int a, int b)
        {
            a = Find(a); b = Find(b);
            if (a == b) return;
            _parent[b] = a;
            if (_flags.Remove(b, out var f) && !_flags.ContainsKey(a)) _flags[a] = f;
        }

        private int Member(Module m, ChannelRole role, int index)
        {
            if (!_memberSites.TryGetValue((m, role, index), out int s)) _memberSites[(m, role, index)] = s = NewSite();
            return s;
        }

        private void Flag(int site, string reason) { int r = Find(site); if (!_flags.ContainsKey(r)) _flags[r] = reason; }

        private int[] Sites(Tensor t)
        {
            if (_sites.TryGetValue(t, out var s)) return s;
            int n = t.Dim >= 2 ? t.Size(1) : 0;
            s = new int[n];
            for (int i = 0; i < n; i++) s[i] = NewSite();
            _sites[t] = s;
            return s;
        }

        private string Where(Tensor t) => _scope.TryGetValue(t, out var n) ? (n.Length == 0 ? $"the model ({_model.TypeName})" : $"layer '{n}'") : "the model";

        public ChannelGraph Finish(Tensor output)
        {
            if (output.Dim < 2) throw new NotSupportedException($"structured pruning traces models whose output is (N, C, …); got shape {Shapes.Format(output.Shape)}");
            foreach (var s in Sites(output)) Flag(s, "the model's output");
            var visited = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
            var stack = new Stack<Tensor>();
            stack.Push(output);
            while (stack.Count > 0)
            {
                var t = stack.Pop();
                if (!visited.Add(t)) continue;
                foreach (var next in Visit(t)) stack.Push(next);
            }
            return new ChannelGraph(BuildGroups(), _names);
        }

        // Joins t's channels with its producer's and returns the producer's inputs to visit.
        private IEnumerable<Tensor> Visit(Tensor t)
        {
            var y = Sites(t);
            if (_layerCalls.TryGetValue(t, out var call)) return VisitLayer(call.Name, call.Module, call.Input, t, y);
            if (ReferenceEquals(t, Input))
            {
                foreach (var s in y) Flag(s, "the model's input");
                return Array.Empty<Tensor>();
            }
            if (t.GradFnName is not string op)
            {
                if (_parameters.Contains(t))
                    throw new NotSupportedException($"structured pruning: a parameter or buffer of shape {Shapes.Format(t.Shape)} is used by an op outside a supported layer; {SupportedSummary}");
                foreach (var s in y) Flag(s, "a constant tensor");
                return Array.Empty<Tensor>();
            }
            var inputs = t.GradFnInputs;
            foreach (var i in inputs)
                if (_parameters.Contains(i))
                    throw Unsupported(op, t, $"it reads a parameter of shape {Shapes.Format(i.Shape)} directly; use the layer modules (Conv2d, Linear, BatchNorm)");
            if (ChannelwiseOps.Contains(op))
            {
                foreach (var i in inputs) JoinChannelwise(op, i, t, y);
                return inputs;
            }
            switch (op)
            {
                case "ViewBackward":
                    JoinReshape(op, inputs[0], t, y);
                    return inputs;
                case "CatBackward":
                    JoinConcat(inputs, t, y);
                    return inputs;
                case "MeanBackward" or "SumBackward" or "SliceBackward":
                    var x = inputs[0];
                    if (t.Dim >= 2 && x.Dim >= 2 && t.Size(0) == x.Size(0) && t.Size(1) == x.Size(1))
                    {
                        JoinSame(Sites(x), y);
                        return inputs;
                    }
                    throw Unsupported(op, t, $"only over dims after the channel dim (input {Shapes.Format(x.Shape)}, output {Shapes.Format(t.Shape)})");
                default:
                    throw Unsupported(op, t, null);
            }
        }

        private NotSupportedException Unsupported(string op, Tensor t, string? why) => new(
            $"structured pruning cannot trace op {op.Replace("Backward", "")} in {Where(t)}" + (why is null ? "" : $": {why}") + $". Supported: {SupportedSummary}");

        private void JoinSame(int[] a, int[] b)
        {
            for (int i = 0; i < a.Length; i++) Union(a[i], b[i]);
        }

        // An input broadcast over channels (size 1 there, or fewer dims) is not coupled; a constant with per-channel
        // values pins the channels (it cannot be shrunk).
        private void JoinChannelwise(string op, Tensor x, Tensor t, int[] y)
        {
            int aligned = x.Dim - (t.Dim - 1); // x's dim that lines up with t's dim 1
            if (t.Dim < 2 || aligned < 0 || x.Size(aligned) == 1) return;
            if (aligned != 1 || x.Size(1) != t.Size(1))
            {
                if (x.GradFnName is null && !ReferenceEquals(x, Input) && !_layerCalls.ContainsKey(x))
                {
                    foreach (var s in y) Flag(s, $"a per-channel constant in {op.Replace("Backward", "")}");
                    return;
                }
                throw Unsupported(op, t, $"input {Shapes.Format(x.Shape)} does not line up with output {Shapes.Format(t.Shape)} along channels");
            }
            JoinSame(Sites(x), y);
        }

        private void JoinReshape(string op, Tensor x, Tensor t, int[] y)
        {
            var xs = x.Shape; var ts = t.Shape;
            if (xs.Count >= 2 && ts.Count >= 2 && xs[0] == ts[0] && xs[1] == ts[1]) { JoinSame(Sites(x), y); return; }
            if (xs.Count > 2 && ts.Count == 2 && xs[0] == ts[0]) { JoinFlatten(Sites(x), y); return; }
            throw Unsupported(op, t, $"reshape {Shapes.Format(xs)} -> {Shapes.Format(ts)} moves the channel dim; only (N, C, …) -> (N, C·…) is supported");
        }

        private void JoinFlatten(int[] x, int[] y)
        {
            int per = y.Length / x.Length;
            for (int j = 0; j < y.Length; j++) Union(y[j], x[j / per]);
        }

        private void JoinConcat(IReadOnlyList<Tensor> inputs, Tensor t, int[] y)
        {
            int dim = -1;
            for (int d = 0; d < t.Dim && dim < 0; d++)
                if (inputs.Sum(i => i.Size(d)) == t.Size(d) && inputs.All(i => Enumerable.Range(0, t.Dim).All(e => e == d || i.Size(e) == t.Size(e))))
                    dim = d;
            if (dim != 1 || inputs.Count == 1)
            {
                foreach (var i in inputs) JoinChannelwise("CatBackward", i, t, y);
                return;
            }
            int off = 0;
            foreach (var i in inputs)
            {
                var xs = Sites(i);
                if (i.GradFnName is null && !ReferenceEquals(i, Input) && !_layerCalls.ContainsKey(i))
                    foreach (var s in xs) Flag(s, "a constant concatenated along channels");
                for (int c = 0; c < xs.Length; c++) Union(xs[c], y[off + c]);
                off += xs.Length;
            }
        }

        private IEnumerable<Tensor> VisitLayer(string name, Module m, Tensor input, Tensor output, int[] y)
        {
            var x = Sites(input);
            string where = name.Length == 0 ? m.TypeName : $"'{name}' ({m.TypeName})";
            switch (m)
            {
                case Conv2d c when c.Groups == 1:
                    for (int o = 0; o < y.Length; o++) Union(y[o], Member(m, ChannelRole.ConvOut, o));
                    for (int i = 0; i < x.Length; i++) Union(x[i], Member(m, ChannelRole.ConvIn, i));
                    break;
                case Conv2d c when c.Groups == c.InChannels && c.Groups == c.OutChannels:
                    for (int k = 0; k < y.Length; k++) { Union(y[k], x[k]); Union(y[k], Member(m, ChannelRole.Depthwise, k)); }
                    break;
                case Conv2d c:
                    throw new NotSupportedException($"structured pruning: grouped Conv2d {where} with groups={c.Groups} (in {c.InChannels}, out {c.OutChannels}) is not supported; groups=1 and depthwise (groups = in = out) are");
                case Linear:
                    if (input.Dim != 2) throw new NotSupportedException($"structured pruning: Linear {where} on a {input.Dim}-D input {Shapes.Format(input.Shape)} is not supported (only (N, features))");
                    for (int o = 0; o < y.Length; o++) Union(y[o], Member(m, ChannelRole.LinearOut, o));
                    for (int i = 0; i < x.Length; i++) Union(x[i], Member(m, ChannelRole.LinearIn, i));
                    break;
                case BatchNormBase:
                    for (int k = 0; k < y.Length; k++) { Union(y[k], x[k]); Union(y[k], Member(m, ChannelRole.BatchNorm, k)); }
                    break;
                case IChannelRouting r:
                    var sources = r.OutputSources;
                    if (sources.Count != y.Length) throw new InvalidOperationException($"{where}: OutputSources has {sources.Count} entries for {y.Length} output channels");
                    for (int i = 0; i < x.Length; i++) Union(x[i], Member(m, ChannelRole.RoutingIn, i));
                    for (int o = 0; o < y.Length; o++)
                    {
                        Union(y[o], Member(m, ChannelRole.RoutingOut, o));
                        if (sources[o] >= 0) Union(y[o], x[sources[o]]);
                    }
                    break;
                case Flatten f:
                    if (Shapes.NormDim(f.StartDim, input.Dim) != 1 || Shapes.NormDim(f.EndDim, input.Dim) != input.Dim - 1)
                        throw new NotSupportedException($"structured pruning: Flatten {where} must flatten dims 1..-1 (got start_dim={f.StartDim}, end_dim={f.EndDim})");
                    if (input.Dim == 2) JoinSame(x, y); else JoinFlatten(x, y);
                    break;
                default: // ReLU, pools, Dropout, Identity
                    if (x.Length != y.Length) throw new NotSupportedException($"structured pruning: {where} changed the channel count {x.Length} -> {y.Length}");
                    JoinSame(x, y);
                    break;
            }
            return new[] { input };
        }

        private List<ChannelGroup> BuildGroups()
        {
            var order = new Dictionary<Module, int>(ReferenceEqualityComparer.Instance);
            foreach (var m in _model.Modules()) order[m] = order.Count;
            var byRoot = new Dictionary<int, List<ChannelMember>>();
            foreach (var ((m, role, index), site) in _memberSites)
            {
                int r = Find(site);
                if (!byRoot.TryGetValue(r, out var list)) byRoot[r] = list = new List<ChannelMember>();
                list.Add(new ChannelMember(_names[m], m, role, index));
            }
            var groups = new Dictionary<string, (List<CoupledChannel> Channels, List<(string, ChannelRole)> Layers, string? Flag, int FirstMember)>();
            foreach (var (root, members) in byRoot.OrderBy(kv => kv.Value.Min(m => (order[m.Module], (int)m.Role, m.Index))))
            {
                members.Sort((a, b) => (order[a.Module], (int)a.Role, a.Index).CompareTo((order[b.Module], (int)b.Role, b.Index)));
                var layers = members.Select(m => (m.Layer, m.Role)).Distinct().ToList();
                string key = string.Join("|", layers.Select(l => $"{l.Layer}:{l.Role}"));
                _flags.TryGetValue(root, out var flag);
                if (!groups.TryGetValue(key, out var g)) groups[key] = g = (new List<CoupledChannel>(), layers, flag, order[members[0].Module]);
                g.Channels.Add(new CoupledChannel(members));
                if (g.Flag is null && flag is not null) groups[key] = g with { Flag = flag };
            }
            return groups.Values.Select(g =>
            {
                var producer = g.Layers.FirstOrDefault(l => l.Item2 is ChannelRole.ConvOut or ChannelRole.LinearOut or ChannelRole.Depthwise);
                return new ChannelGroup(producer.Item1 ?? g.Layers[0].Item1, g.Channels, g.Layers, g.Flag);
            }).ToList();
        }
    }
}
