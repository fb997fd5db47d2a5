using SharpPrune.NN;
using SharpPrune.Pruning;

// The example's flow; tests/SharpPrune.Tests/Pruning/Tutorial/PruningTutorialTests.cs references this project and
// checks exactly what it prints.
namespace SharpPrune.Examples.PruningTutorial;

/// <summary>
/// The LeNet of PyTorch's pruning tutorial: conv1 1→6 3×3, conv2 6→16 3×3, fc1 16·5·5→120, fc2 120→84,
/// fc3 84→10, with 2×2 max pooling after each conv. The tutorial's comment says 32×32 input, but with fc1 sized
/// 16·5·5 its forward only works on 28×28 (32×32 gives 16·6·6 = 576 features, in PyTorch too); the tutorial never
/// runs a forward, this flow runs one on 1×1×28×28.
/// </summary>
public sealed class LeNet : Module
{
    public readonly Conv2d Conv1, Conv2;
    public readonly Linear Fc1, Fc2, Fc3;

    public LeNet(Generator g)
    {
        Conv1 = RegisterModule("conv1", new Conv2d(1, 6, 3, generator: g));
        Conv2 = RegisterModule("conv2", new Conv2d(6, 16, 3, generator: g));
        Fc1 = RegisterModule("fc1", new Linear(16 * 5 * 5, 120, generator: g));
        Fc2 = RegisterModule("fc2", new Linear(120, 84, generator: g));
        Fc3 = RegisterModule("fc3", new Linear(84, 10, generator: g));
    }

    protected override Tensor ForwardCore(Tensor x)
    {
        x = MaxPool2x2(Conv1.Forward(x).Relu());
        x = MaxPool2x2(Conv2.Forward(x).Relu());
        x = x.Flatten(1);
        x = Fc1.Forward(x).Relu();
        x = Fc2.Forward(x).Relu();
        return Fc3.Forward(x);
    }

    /// <summary>F.max_pool2d(x, 2): odd trailing rows/columns are dropped, as PyTorch's floor mode does.</summary>
    private static Tensor MaxPool2x2(Tensor x)
    {
        int n = x.Size(0), c = x.Size(1), h = x.Size(2) / 2, w = x.Size(3) / 2;
        if (x.Size(2) != 2 * h) x = x.Slice(2, 0, 2 * h);
        if (x.Size(3) != 2 * w) x = x.Slice(3, 0, 2 * w);
        return x.Reshape(n, c, h, 2, w, 2).Max(5).Values.Max(3).Values;
    }
}

/// <summary>The tutorials' custom method (PRUNING_TYPE = 'unstructured'): prunes every other entry of the unpruned part.</summary>
public sealed class FooBarPruningMethod : BasePruningMethod
{
    public override PruningType PruningType => PruningType.Unstructured;

    public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
    {
        var mask = defaultMask.Clone();
        var d = mask.Data;
        for (int i = 0; i < d.Length; i += 2) d[i] = 0f; // mask.view(-1)[::2] = 0
        return mask;
    }

    /// <summary>The tutorial's <c>foobar_unstructured(module, name)</c>.</summary>
    public static T Unstructured<T>(T module, string name) where T : Module
    {
        BasePruningMethod.Apply(module, name, new FooBarPruningMethod());
        return module;
    }

    public override string ToString() => "FooBarPruningMethod()";
}

/// <summary>
/// PyTorch's torch.nn.utils.prune tutorial and a walk-through of the same API, on <see cref="LeNet"/>. Every
/// observable the tutorials print (parameter and buffer names, hooks, pruning history, state-dict keys,
/// sparsities, the custom mask) is written to the output and kept in <see cref="Observations"/> under a key.
/// </summary>
public sealed class PruningTutorialFlow
{
    private readonly TextWriter _out;

    /// <summary>What the tutorial printed, by key ("002.conv1.named_parameters", …), in order of observation.</summary>
    public Dictionary<string, IReadOnlyList<string>> Observations { get; } = new();

    private PruningTutorialFlow(TextWriter output) => _out = output;

    public static PruningTutorialFlow Run(TextWriter output, ulong seed = 0)
    {
        var flow = new PruningTutorialFlow(output);
        flow.Tutorial002(seed);
        flow.Tutorial001(seed + 100);
        return flow;
    }

    private void Section(string title) => _out.WriteLine($"\n=== {title} ===");

    private void Observe(string key, IEnumerable<string> values)
    {
        var list = values.ToList();
        Observations[key] = list;
        _out.WriteLine($"{key}: [{string.Join(", ", list)}]");
    }

    private void ObserveLine(string key, string line)
    {
        Observations[key] = new[] { line };
        _out.WriteLine(line);
    }

    private static IEnumerable<string> Params(Module m) => m.NamedParameters().Select(p => $"{p.Name} {Shapes.Format(p.Parameter.Shape)}");
    private static IEnumerable<string> Buffers(Module m) => m.NamedBuffers().Select(b => $"{b.Name} {Shapes.Format(b.Buffer.Shape)}");
    private static IEnumerable<string> Hooks(Module m) => m.ForwardPreHooks.Values.Select(h => h.ToString()!);
    private static IEnumerable<string> Keys(Module m) => m.StateDict().Select(kv => kv.Key);

    private static string Zeros(Tensor t) => $"{t.Numel - t.CountNonZero()} of {t.Numel} zero";

    private static IEnumerable<string> History(Module m, string name)
    {
        foreach (var h in m.ForwardPreHooks.Values)
            if (h is BasePruningMethod p && p.TensorName == name)
                return p is PruningContainer c ? c.Methods.Select(x => x.ToString()) : new[] { p.ToString() };
        return Array.Empty<string>();
    }

    private void Tutorial002(ulong seed)
    {
        Section("PyTorch's pruning tutorial");
        var model = new LeNet(new Generator(seed));
        var module = model.Conv1;
        Observe("002.conv1.named_parameters", Params(module));
        Observe("002.conv1.named_buffers", Buffers(module));

        Prune.RandomUnstructured(module, "weight", 0.3, new Generator(seed + 1));
        Observe("002.random.named_parameters", Params(module));
        Observe("002.random.named_buffers", Buffers(module));
        ObserveLine("002.random.weight", $"conv1.weight: {Zeros(module["weight"]!)}");
        Observe("002.random.forward_pre_hooks", Hooks(module));

        Prune.L1Unstructured(module, "bias", 3);
        Observe("002.l1.named_parameters", Params(module));
        Observe("002.l1.named_buffers", Buffers(module));
        ObserveLine("002.l1.bias", $"conv1.bias: {Zeros(module["bias"]!)}");
        Observe("002.l1.forward_pre_hooks", Hooks(module));

        Prune.LnStructured(module, "weight", 0.5, 2, dim: 0);
        var mask = module["weight_mask"]!;
        int deadChannels = Enumerable.Range(0, 6).Count(c => mask.Select(0, c).CountNonZero() == 0);
        ObserveLine("002.ln.dead_channels", $"conv1.weight: {deadChannels} of 6 output channels entirely zero");
        Observe("002.ln.history", History(module, "weight"));
        Observe("002.state_dict_keys", Keys(model));

        Prune.Remove(module, "weight");
        Observe("002.remove.named_parameters", Params(module));
        Observe("002.remove.named_buffers", Buffers(module));
        Observe("002.remove.forward_pre_hooks", Hooks(module));

        var output = model.Forward(Tensor.Randn(new Generator(seed + 2), 1, 1, 28, 28));
        ObserveLine("002.forward", $"forward on 1x1x28x28 -> {Shapes.Format(output.Shape)}");

        Section("Tutorial: pruning multiple parameters");
        var newModel = new LeNet(new Generator(seed + 3));
        foreach (var (_, m) in newModel.NamedModules())
        {
            if (m is Conv2d) Prune.L1Unstructured(m, "weight", 0.2);
            else if (m is Linear) Prune.L1Unstructured(m, "weight", 0.4);
        }
        Observe("002.multi.named_buffers", newModel.NamedBuffers().Select(b => b.Name));

        Section("Tutorial: global pruning");
        var gModel = new LeNet(new Generator(seed + 4));
        var layers = new (string Name, Module Module)[] { ("conv1", gModel.Conv1), ("conv2", gModel.Conv2), ("fc1", gModel.Fc1), ("fc2", gModel.Fc2), ("fc3", gModel.Fc3) };
        Prune.GlobalUnstructured(layers.Select(l => (l.Module, "weight")), GlobalPruningMethod.L1Unstructured, 0.2);
        foreach (var (name, m) in layers)
            ObserveLine($"002.global.{name}", PruningReport.SparsityLine(name + ".weight", m["weight"]!));
        ObserveLine("002.global.all", PruningReport.GlobalSparsityLine(layers.Select(l => l.Module["weight"]!)));

        Section("Tutorial: extending with a custom method");
        var fModel = new LeNet(new Generator(seed + 5));
        FooBarPruningMethod.Unstructured(fModel.Fc3, "bias");
        Observe("002.foobar.bias_mask", fModel.Fc3["bias_mask"]!.ToArray().Select(v => v.ToString("0.")));
        Observe("002.foobar.forward_pre_hooks", Hooks(fModel.Fc3));
    }

    private void Tutorial001(ulong seed)
    {
        Section("Walk-through: local, iterative, global and custom pruning");
        var model = new LeNet(new Generator(seed));
        var module = model.Conv1;
        Observe("001.state_dict_keys.before", Keys(model));

        Prune.RandomStructured(module, "weight", 2, dim: 0, new Generator(seed + 1));
        Observe("001.random_structured.state_dict_keys", Keys(model));
        var mask = module["weight_mask"]!;
        ObserveLine("001.random_structured.dead_channels",
            $"conv1.weight: {Enumerable.Range(0, 6).Count(c => mask.Select(0, c).CountNonZero() == 0)} of 6 output channels entirely zero");
        Observe("001.random_structured.forward_pre_hooks", Hooks(module));

        Prune.LnStructured(module, "weight", 0.5, 2, dim: 0);
        Observe("001.ln.state_dict_keys", Keys(model));
        Observe("001.ln.history", History(module, "weight"));

        Prune.RandomUnstructured(module, "bias", 1, new Generator(seed + 2));
        Observe("001.bias.state_dict_keys", Keys(model));
        Observe("001.bias.forward_pre_hooks", Hooks(module));

        foreach (var (_, m) in model.NamedModules())
            if (m is Conv2d) Prune.L1Unstructured(m, "bias", 0.2);
        Observe("001.conv_bias.state_dict_keys", Keys(model));

        foreach (var (_, m) in model.NamedModules())
            if (m is Conv2d) Prune.Remove(m, "bias");
        Prune.Remove(module, "weight");
        Observe("001.remove.state_dict_keys", Keys(model));
        Observe("001.remove.named_parameters", Params(module));
        Observe("001.remove.named_buffers", Buffers(module));
        Observe("001.remove.forward_pre_hooks", Hooks(module));

        var gModel = new LeNet(new Generator(seed + 3));
        var layers = new (string Name, Module Module)[] { ("conv1", gModel.Conv1), ("conv2", gModel.Conv2), ("fc1", gModel.Fc1), ("fc2", gModel.Fc2) };
        Prune.GlobalUnstructured(layers.Select(l => (l.Module, "weight")), GlobalPruningMethod.L1Unstructured, 0.2);
        Observe("001.global.state_dict_keys", Keys(gModel));
        foreach (var (name, m) in layers)
            ObserveLine($"001.global.{name}", PruningReport.SparsityLine(name + ".weight", m["weight"]!));
        ObserveLine("001.global.all", PruningReport.GlobalSparsityLine(layers.Select(l => l.Module["weight"]!)));

        _out.WriteLine();
        _out.Write(PruningReport.FromModule(gModel).FormatTable());
    }
}
