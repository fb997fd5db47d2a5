using SharpPrune.NN;

namespace SharpPrune.Onnx;

/// <summary>
/// A model imported from ONNX: its layers (Conv2d, Linear, BatchNorm, pools…) are ordinary SharpPrune modules,
/// registered under dotted paths taken from the graph's names (so the state dict reads <c>layer1.0.conv1.weight</c>),
/// and its forward runs the graph's nodes in order: a layer node calls the child module at its path (through
/// <see cref="Module.Forward"/>, so pruning hooks run and a replaced child is used), the other nodes (add, concat,
/// reshape, shape arithmetic) are plain ops. It can be evaluated, pruned, fine-tuned and exported again.
/// </summary>
public sealed class OnnxGraphModule : Module
{
    private readonly List<GraphStep> _steps = new();
    private readonly List<string> _layerPaths = new();
    private readonly Dictionary<string, Tensor> _constants;
    private readonly string _inputName, _outputName;

    /// <summary>The input one sample has (C, H, W), from the graph's input description.</summary>
    public IReadOnlyList<int> InputShape { get; }

    public override string TypeName => "OnnxGraph";

    internal OnnxGraphModule(string inputName, int[] inputShape, string outputName, Dictionary<string, Tensor> constants)
    {
        _inputName = inputName; InputShape = inputShape; _outputName = outputName; _constants = constants;
    }

    /// <summary>The steps in order (the importer appends while it builds).</summary>
    internal List<GraphStep> Steps => _steps;

    /// <summary>Registers a layer module at its path (see <see cref="RegisterAt"/>) and remembers it for <see cref="Describe"/>.</summary>
    internal void AddLayer(string path, Module layer)
    {
        RegisterAt(path, layer);
        _layerPaths.Add(path);
    }

    /// <summary>
    /// The model's structure as it is now: its layers as they are (a shrink's narrower layers and shortcut maps
    /// included; widths come from the state dict), its steps and the constants they read. Save it in a checkpoint's
    /// metadata under <see cref="GraphSpec.MetadataKey"/> (<see cref="GraphSpec.ToJson"/>) beside the state dict.
    /// Throws <see cref="InvalidOperationException"/> when a layer was replaced by a module type a graph cannot hold.
    /// </summary>
    public GraphSpec Describe()
    {
        var layers = _layerPaths.Select(p => GraphLayer.Of(p, GetSubmodule(p))).ToList();
        var constants = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var name in _steps.SelectMany(s => s.Inputs))
            if (_constants.TryGetValue(name, out var c)) constants.TryAdd(name, c);
        return new GraphSpec(_inputName, InputShape.ToArray(), _outputName, layers, _steps.ToList(), constants);
    }

    /// <summary>
    /// Builds the model <paramref name="spec"/> describes, with fresh parameters whose shapes
    /// <paramref name="tensorShape"/> gives by full name ("layer1.0.conv1.weight"; null when the layer has no such
    /// tensor); load the state dict into it afterwards. The graph runs once on a zero sample, so a description that does
    /// not fit its tensors fails here with an <see cref="InvalidDataException"/> naming <paramref name="source"/> and the step.
    /// </summary>
    public static OnnxGraphModule FromSpec(GraphSpec spec, Func<string, int[]?> tensorShape, string source)
    {
        var model = new OnnxGraphModule(spec.InputName, spec.InputShape.ToArray(), spec.OutputName, new Dictionary<string, Tensor>(spec.Constants, StringComparer.Ordinal));
        foreach (var layer in spec.Layers)
        {
            if (!model.PathIsFree(layer.Path))
                throw new InvalidDataException($"{source}: layer path '{MessageText.Name(layer.Path)}' is empty, used twice or inside another layer");
            try { model.AddLayer(layer.Path, layer.Create(name => tensorShape(layer.Path + "." + name))); }
            catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message}", e); }
        }
        var known = new HashSet<string>(spec.Constants.Keys, StringComparer.Ordinal) { spec.InputName };
        var layers = spec.Layers.Select(l => l.Path).ToHashSet(StringComparer.Ordinal);
        foreach (var s in spec.Steps)
        {
            string what = $"{source}: step '{MessageText.Name(s.Node)}' ({s.Op})";
            if (s.Inputs.FirstOrDefault(i => !known.Contains(i)) is { } missing)
                throw new InvalidDataException($"{what} reads '{MessageText.Name(missing)}', which no earlier step, constant or the input provides");
            if (s.Op == GraphOps.Layer && !layers.Contains(s.Layer!))
                throw new InvalidDataException($"{what} calls layer '{MessageText.Name(s.Layer)}', which the description does not list");
            if (!known.Add(s.Output)) throw new InvalidDataException($"{what} writes '{MessageText.Name(s.Output)}', which is already defined");
            model._steps.Add(s);
        }
        if (!known.Contains(spec.OutputName)) throw new InvalidDataException($"{source}: the graph output '{MessageText.Name(spec.OutputName)}' is not computed by any step");
        model.Eval();
        using (SharpPrune.Autograd.GradMode.NoGrad())
            model.Run(Tensor.Zeros([1, .. spec.InputShape]), (s, e) => new InvalidDataException($"{source}: step '{MessageText.Name(s.Node)}' ({s.Op}) does not fit its tensors: {e.Message}", e));
        return model;
    }

    /// <summary>Registers <paramref name="module"/> at a dotted path, creating the containers above it.</summary>
    internal void RegisterAt(string path, Module module)
    {
        var parts = path.Split('.');
        Module cur = this;
        for (int i = 0; i < parts.Length - 1; i++)
        {
            var child = cur.NamedChildren().FirstOrDefault(c => c.Name == parts[i]).Module;
            if (child == null) child = cur.RegisterModule(parts[i], new OnnxScope());
            cur = child;
        }
        cur.RegisterModule(parts[^1], module);
    }

    /// <summary>True when <paramref name="path"/> can name a new module (not taken, no layer on its way).</summary>
    internal bool PathIsFree(string path)
    {
        var parts = path.Split('.');
        if (parts.Any(p => p.Length == 0)) return false;
        Module cur = this;
        for (int i = 0; i < parts.Length; i++)
        {
            var child = cur.NamedChildren().FirstOrDefault(c => c.Name == parts[i]).Module;
            if (child == null) return true;
            if (i == parts.Length - 1 || child is not OnnxScope) return false;
            cur = child;
        }
        return false;
    }

    protected override Tensor ForwardCore(Tensor input) => Run(input, null);

    /// <summary>Runs the steps in order; with <paramref name="wrap"/>, a step's failure is rethrown as what it returns.</summary>
    private Tensor Run(Tensor input, Func<GraphStep, Exception, Exception>? wrap)
    {
        var values = new Dictionary<string, Tensor>(_constants, StringComparer.Ordinal) { [_inputName] = input };
        var budget = wrap is null ? null : new GraphOps.CheckBudget(); // a check run of a graph from a file
        foreach (var s in _steps)
        {
            var ins = new Tensor[s.Inputs.Count];
            for (int i = 0; i < ins.Length; i++) ins[i] = values[s.Inputs[i]];
            try { values[s.Output] = GraphOps.Run(s, this, ins, budget); }
            catch (Exception e) when (wrap is not null && e is ArgumentException or InvalidOperationException or IndexOutOfRangeException or OverflowException)
            {
                throw wrap(s, e);
            }
        }
        return values[_outputName];
    }
}

/// <summary>A level of dotted names in an imported graph ("layer1", "layer1.0"); holds modules, runs nothing.</summary>
public sealed class OnnxScope : Module
{
    protected override bool MayRetainTensors => false;
    protected override Tensor ForwardCore(Tensor input) =>
        throw new InvalidOperationException("an ONNX name scope has no forward; its parent OnnxGraphModule runs the graph");
}
