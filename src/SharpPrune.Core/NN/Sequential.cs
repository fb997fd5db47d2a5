namespace SharpPrune.NN;

/// <summary>
/// Runs its children in registration order; children are named "0", "1", … like PyTorch (or as given). The module
/// registry is the only child list: replacing a child with <see cref="Module.RegisterModule{T}"/> changes what runs.
/// (SharpPrune has no ModuleList: a module that runs its children itself registers them by name, or keeps a
/// Sequential when it needs an indexable list; every module has a forward that works.)
/// </summary>
public class Sequential : Container
{
    public Sequential(params Module[] layers)
    {
        foreach (var l in layers) Add(l);
    }

    public Sequential(IEnumerable<(string Name, Module Module)> named)
    {
        foreach (var (n, m) in named) RegisterModule(n, m);
    }

    /// <summary>Appends a child named by its position.</summary>
    public void Add(Module m) => RegisterModule(Count.ToString(System.Globalization.CultureInfo.InvariantCulture), m);
    public int Count => ChildList.Count;
    public Module this[int index] => ChildList[index];
    /// <summary>The children in order: a live read-only view of the registry.</summary>
    public IReadOnlyList<Module> Layers => ChildList;

    protected override Tensor ForwardCore(Tensor input) => Chain(input, ChildList);
}
