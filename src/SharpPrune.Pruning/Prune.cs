using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>The built-in methods <see cref="Prune.GlobalUnstructured(IEnumerable{ValueTuple{Module, string}}, GlobalPruningMethod, Amount, IReadOnlyDictionary{ValueTuple{Module, string}, Tensor}?, Generator?)"/> can rank with.</summary>
public enum GlobalPruningMethod
{
    /// <summary>Smallest magnitudes across all the tensors (PyTorch's <c>prune.L1Unstructured</c>).</summary>
    L1Unstructured,

    /// <summary>Random entries across all the tensors (PyTorch's <c>prune.RandomUnstructured</c>).</summary>
    RandomUnstructured,
}

/// <summary>
/// The functional API of <c>torch.nn.utils.prune</c>. Each function prunes a module's parameter in place and
/// returns the module. Pruning the same parameter again acts on what the earlier pruning left
/// (see <see cref="PruningContainer"/>); <see cref="Remove{T}"/> makes it permanent.
/// </summary>
public static class Prune
{
    /// <summary>Sets up the reparametrisation with a mask of ones (prunes nothing).</summary>
    public static T Identity<T>(T module, string name) where T : Module =>
        Run(module, name, new Identity());

    /// <summary>Prunes <paramref name="amount"/> random entries (an int: a count; a double: a fraction).</summary>
    public static T RandomUnstructured<T>(T module, string name, Amount amount, Generator? generator = null) where T : Module =>
        Run(module, name, new RandomUnstructured(amount, generator));

    /// <summary>Prunes the <paramref name="amount"/> entries of smallest magnitude (of <paramref name="importanceScores"/> when given).</summary>
    public static T L1Unstructured<T>(T module, string name, Amount amount, Tensor? importanceScores = null) where T : Module =>
        Run(module, name, new L1Unstructured(amount), importanceScores);

    /// <summary>Prunes <paramref name="amount"/> random channels along <paramref name="dim"/>.</summary>
    public static T RandomStructured<T>(T module, string name, Amount amount, int dim, Generator? generator = null) where T : Module =>
        Run(module, name, new RandomStructured(amount, dim, generator));

    /// <summary>Prunes the <paramref name="amount"/> channels along <paramref name="dim"/> of smallest L<paramref name="n"/> norm.</summary>
    public static T LnStructured<T>(T module, string name, Amount amount, double n, int dim, Tensor? importanceScores = null) where T : Module =>
        Run(module, name, new LnStructured(amount, n, dim), importanceScores);

    /// <summary>As the other overload with a named norm: "fro".</summary>
    public static T LnStructured<T>(T module, string name, Amount amount, string n, int dim, Tensor? importanceScores = null) where T : Module =>
        Run(module, name, new LnStructured(amount, n, dim), importanceScores);

    /// <summary>Prunes where <paramref name="mask"/> is 0 (on top of any earlier mask).</summary>
    public static T CustomFromMask<T>(T module, string name, Tensor mask) where T : Module =>
        Run(module, name, new CustomFromMask(mask));

    /// <summary>Applies any method instance, e.g. a custom subclass of <see cref="BasePruningMethod"/>.</summary>
    public static T Apply<T>(T module, string name, BasePruningMethod method, Tensor? importanceScores = null) where T : Module =>
        Run(module, name, method, importanceScores);

    private static T Run<T>(T module, string name, BasePruningMethod method, Tensor? importanceScores = null) where T : Module
    {
        BasePruningMethod.Apply(module, name, method, importanceScores);
        return module;
    }

    /// <summary>
    /// Global pruning with a built-in method: ranks the entries of all <paramref name="parameters"/> together and
    /// prunes <paramref name="amount"/> of them overall, so layers end up with different sparsities.
    /// </summary>
    public static void GlobalUnstructured(IEnumerable<(Module Module, string Name)> parameters, GlobalPruningMethod method, Amount amount,
        IReadOnlyDictionary<(Module, string), Tensor>? importanceScores = null, Generator? generator = null)
    {
        BasePruningMethod m = method switch
        {
            GlobalPruningMethod.L1Unstructured => new L1Unstructured(amount),
            GlobalPruningMethod.RandomUnstructured => new RandomUnstructured(amount, generator),
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, "unknown global pruning method"),
        };
        GlobalUnstructured(parameters, m, importanceScores);
    }

    /// <summary>
    /// Global pruning (PyTorch's <c>global_unstructured</c>) with any unstructured <paramref name="method"/>
    /// instance: the current effective values (or the given importance scores) of all tensors are flattened and
    /// concatenated in order, existing masks likewise, the method runs once on the still-unpruned entries, and the
    /// resulting mask is cut back per tensor and applied with <see cref="Pruning.CustomFromMask"/>. Every tensor
    /// is checked before any is pruned, so a failure leaves all modules untouched.
    /// </summary>
    public static void GlobalUnstructured(IEnumerable<(Module Module, string Name)> parameters, BasePruningMethod method,
        IReadOnlyDictionary<(Module, string), Tensor>? importanceScores = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(method);
        var list = parameters.ToList();
        if (list.Count == 0) throw new ArgumentException("global_unstructured(): parameters is empty");
        if (method is PruningContainer)
            throw new ArgumentException("global_unstructured(): pass a pruning method, not a PruningContainer");
        if (method.PruningType != PruningType.Unstructured)
            throw new ArgumentException(
                $"Only \"unstructured\" PRUNING_TYPE supported for the `pruning_method`. Found method {method.GetType().Name} of type {method.PruningType.ToString().ToLowerInvariant()}");
        var seen = new HashSet<(Module, string)>(new ModuleNameComparer());
        foreach (var p in list)
            if (!seen.Add(p)) throw new ArgumentException($"parameter '{p.Name}' of {p.Module.TypeName} is listed twice");
        if (importanceScores != null)
            foreach (var key in importanceScores.Keys)
                if (!seen.Contains(key)) throw new ArgumentException($"importance_scores has a key ('{key.Item2}' of {key.Item1.TypeName}) that is not among the parameters to prune");

        var scores = new List<Tensor>();
        var masks = new List<Tensor>();
        var shapes = new List<int[]>();
        foreach (var (module, name) in list)
        {
            var (_, hook, current) = BasePruningMethod.Inspect(module, name);
            shapes.Add(current.ShapeCopy());
            Tensor? s = null;
            if (importanceScores != null && importanceScores.TryGetValue((module, name), out s) && !Shapes.Equal(s.Shape, current.Shape))
                throw new ArgumentException(
                    $"importance_scores should have the same shape as parameter {name} of {module.TypeName}: expected {Shapes.Format(current.Shape)}, got {Shapes.Format(s.Shape)}");
            scores.Add((s ?? current).Detach().Reshape(-1));
            masks.Add(hook != null ? module[name + "_mask"]!.Detach().Reshape(-1) : Tensor.Ones(current.Numel));
        }

        method.TensorName ??= "temp";
        Tensor finalMask;
        using (GradMode.NoGrad())
            finalMask = PruningContainer.CombineMasks(method, Tensor.Concat(scores), Tensor.Concat(masks));

        int offset = 0;
        for (int i = 0; i < list.Count; i++)
        {
            int n = (int)Shapes.Numel(shapes[i]);
            var slice = new Tensor(finalMask.Data.Slice(offset, n).ToArray(), shapes[i]);
            BasePruningMethod.Apply(list[i].Module, list[i].Name, new CustomFromMask(slice));
            offset += n;
        }
    }

    /// <summary>
    /// Makes the pruning of <paramref name="name"/> permanent (see <see cref="BasePruningMethod.Remove"/>).
    /// Throws if <paramref name="name"/> is not pruned.
    /// </summary>
    public static T Remove<T>(T module, string name) where T : Module
    {
        var (_, hook) = BasePruningMethod.FindHook(module, name);
        if (hook == null)
            throw new ArgumentException($"Parameter '{name}' of module {module.TypeName} has to be pruned before pruning can be removed");
        hook.Remove(module);
        return module;
    }

    /// <summary>Whether <paramref name="module"/> or any submodule has a pruning hook.</summary>
    public static bool IsPruned(Module module) =>
        module.Modules().Any(m => m.ForwardPreHooks.Values.Any(h => h is BasePruningMethod));

    /// <summary>The pruning hooks of <paramref name="module"/> itself (one per pruned tensor), in registration order.</summary>
    public static IReadOnlyList<BasePruningMethod> Hooks(Module module) =>
        module.ForwardPreHooks.Values.OfType<BasePruningMethod>().ToList();

    /// <summary>
    /// Recomputes every pruned tensor's plain attribute from <c>orig * mask</c> in <paramref name="model"/>, as the
    /// forward pre-hooks would; needed after writing into <c>_orig</c> or <c>_mask</c> outside a forward
    /// (e.g. after loading a state dict) when the attribute is read directly.
    /// </summary>
    public static void Refresh(Module model)
    {
        foreach (var m in model.Modules())
            foreach (var hook in Hooks(m))
                m[hook.TensorName!] = hook.ApplyMask(m);
    }

    private sealed class ModuleNameComparer : IEqualityComparer<(Module, string)>
    {
        public bool Equals((Module, string) a, (Module, string) b) => ReferenceEquals(a.Item1, b.Item1) && a.Item2 == b.Item2;
        public int GetHashCode((Module, string) k) => HashCode.Combine(System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(k.Item1), k.Item2);
    }
}
