namespace SharpPrune.NN;

public sealed class ReLU : Module
{
    protected override bool MayRetainTensors => false;
    /// <summary>Overwrite the input instead of allocating the output (PyTorch's inplace=True; see <see cref="Tensor.Relu_"/>).</summary>
    public bool Inplace { get; }
    public ReLU(bool inplace = false) { Inplace = inplace; }
    protected override Tensor ForwardCore(Tensor input) => Inplace ? input.Relu_() : input.Relu();
    public override string ExtraRepr() => Inplace ? "inplace=True" : "";
}

public sealed class Identity : Module
{
    protected override bool MayRetainTensors => false;
    protected override Tensor ForwardCore(Tensor input) => input;
}

public sealed class Flatten : Module
{
    protected override bool MayRetainTensors => false;
    public int StartDim { get; }
    public int EndDim { get; }
    public Flatten(int startDim = 1, int endDim = -1) { StartDim = startDim; EndDim = endDim; }
    protected override Tensor ForwardCore(Tensor input) => input.Flatten(StartDim, EndDim);
    public override string ExtraRepr() => $"start_dim={StartDim}, end_dim={EndDim}";
}

public sealed class Dropout : Module
{
    protected override bool MayRetainTensors => false;
    public float P { get; }
    public Generator? Generator { get; set; }
    public Dropout(float p = 0.5f)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"dropout probability has to be between 0 and 1, but got {p}");
        P = p;
    }
    protected override Tensor ForwardCore(Tensor input) => F.Dropout(input, P, Training, Generator);
    // PyTorch prints the float as Python does (0.5, 1.0) and always shows inplace.
    public override string ExtraRepr() =>
        $"p={P.ToString(System.Globalization.CultureInfo.InvariantCulture)}{(P == MathF.Floor(P) ? ".0" : "")}, inplace=False";
}

/// <summary>
/// Runs children in registration order; children are named "0", "1", … like PyTorch. The module registry is the
/// only child list: replacing a child with <see cref="Module.RegisterModule{T}"/> changes what runs.
/// </summary>
public class Sequential : Module
{
    public Sequential(params Module[] layers)
    {
        foreach (var l in layers) Add(l);
    }

    public Sequential(IEnumerable<(string Name, Module Module)> named)
    {
        foreach (var (n, m) in named) RegisterModule(n, m);
    }

    public void Add(Module m) => RegisterModule(Count.ToString(), m);
    public int Count => Children().Count();
    public Module this[int index] => Children().ElementAt(index);
    public IReadOnlyList<Module> Layers => Children().ToArray();

    protected override Tensor ForwardCore(Tensor input) => Chain(input, Layers);

    // A subclass may add state; it opts in itself (the zoo's Sequential models do).
    protected override bool MayRetainTensors => GetType() != typeof(Sequential);
}

/// <summary>A list of submodules named "0", "1", …; it has no forward of its own.</summary>
public sealed class ModuleList : Module
{
    protected override bool MayRetainTensors => false;
    public ModuleList(params Module[] modules) { foreach (var m in modules) Add(m); }
    public void Add(Module m) => RegisterModule(Count.ToString(), m);
    public int Count => Children().Count();
    public Module this[int index] => Children().ElementAt(index);
    public IReadOnlyList<Module> Items => Children().ToArray();
    protected override Tensor ForwardCore(Tensor input) =>
        throw new InvalidOperationException("ModuleList has no forward; iterate its items");
}
