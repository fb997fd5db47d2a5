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
    /// <summary>One node: reads <see cref="Inputs"/> from the value table and writes <see cref="Output"/>.</summary>
    internal sealed record Step(string Node, string Output, string[] Inputs, Func<OnnxGraphModule, Tensor[], Tensor> Run);

    private readonly List<Step> _steps;
    private readonly Dictionary<string, Tensor> _constants;
    private readonly string _inputName, _outputName;

    /// <summary>The input one sample has (C, H, W), from the graph's input description.</summary>
    public IReadOnlyList<int> InputShape { get; }

    public override string TypeName => "OnnxGraph";

    internal OnnxGraphModule(string inputName, int[] inputShape, string outputName, List<Step> steps, Dictionary<string, Tensor> constants)
    {
        _inputName = inputName; InputShape = inputShape; _outputName = outputName; _steps = steps; _constants = constants;
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

    protected override Tensor ForwardCore(Tensor input)
    {
        var values = new Dictionary<string, Tensor>(_constants, StringComparer.Ordinal) { [_inputName] = input };
        foreach (var s in _steps)
        {
            var ins = new Tensor[s.Inputs.Length];
            for (int i = 0; i < ins.Length; i++) ins[i] = values[s.Inputs[i]];
            values[s.Output] = s.Run(this, ins);
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
