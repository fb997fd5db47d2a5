using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// Base of every pruning technique (PyTorch's <c>torch.nn.utils.prune.BasePruningMethod</c>). A subclass says how
/// to compute a mask (<see cref="ComputeMask"/>) and what kind of units it removes (<see cref="PruningType"/>);
/// this class owns the reparametrisation of a module's parameter <c>name</c>:
/// <list type="bullet">
/// <item>the parameter object moves to <c>name_orig</c> (the same tensor, so an optimizer built before pruning
/// keeps updating it), the mask becomes the buffer <c>name_mask</c>, and <c>name</c> becomes a plain attribute
/// holding <c>name_orig * name_mask</c> — differentiable, so gradients reach <c>name_orig</c> only through the
/// mask and pruned entries get zero gradient;</item>
/// <item>the method registers itself as a forward pre-hook that recomputes <c>name</c> before every forward;</item>
/// <item>pruning the same parameter again combines masks through a <see cref="PruningContainer"/> (the history).</item>
/// </list>
/// Deviation from PyTorch, on purpose: when computing a new mask fails (bad amount, wrong dim…), the module is
/// left exactly as it was. PyTorch rolls back only a first pruning, and even then re-registers the parameter at
/// the end (changing the parameter order); on a failed second pruning it leaves the old hook deleted and the
/// method already added to the container. Here everything that can fail runs before the module is touched.
/// The mask is also computed from the current <c>name_orig * name_mask</c> rather than from the <c>name</c>
/// attribute, which in PyTorch is stale after an optimizer step until the next forward.
/// </summary>
public abstract class BasePruningMethod : IForwardPreHook, IRetainsNoTensors
{
    private bool _applied;

    /// <summary>The parameter this method prunes (PyTorch's <c>_tensor_name</c>); set by <see cref="Apply"/>.</summary>
    public string? TensorName { get; set; }

    /// <summary>Entries, channels or the whole tensor; decides how a container combines this method with earlier masks.</summary>
    public abstract PruningType PruningType { get; }

    /// <summary>The dim along which channels are defined; structured methods must return it.</summary>
    public virtual int? Dim => null;

    /// <summary>The id of the forward pre-hook this method is registered under, while it is.</summary>
    public int? HookId { get; private set; }

    /// <summary>
    /// Computes the mask for <paramref name="t"/> (the importance scores; the parameter by default) on top of
    /// <paramref name="defaultMask"/> (all ones on a first pruning), whose zeros must stay zero. Must not modify
    /// either argument; returns a tensor of the same shape.
    /// </summary>
    public abstract Tensor ComputeMask(Tensor t, Tensor defaultMask);

    /// <summary><c>module[name_orig] * module[name_mask]</c>, recorded by autograd when grad mode is on.</summary>
    public Tensor ApplyMask(Module module)
    {
        var name = TensorName ?? throw new InvalidOperationException($"Module {module.TypeName} has to be pruned");
        var orig = module.TryGet(name + "_orig", out var o) && o != null ? o
            : throw new InvalidOperationException($"{module.TypeName} has no parameter '{name}_orig': '{name}' is not pruned on this module");
        var mask = module.TryGet(name + "_mask", out var m) && m != null ? m
            : throw new InvalidOperationException($"{module.TypeName} has no buffer '{name}_mask': '{name}' is not pruned on this module");
        return orig * mask;
    }

    /// <summary>The forward pre-hook: refreshes <c>module[name]</c> from the original and the mask.</summary>
    public Tensor? Invoke(Module module, Tensor input)
    {
        module[TensorName!] = ApplyMask(module);
        return null;
    }

    /// <summary>
    /// <paramref name="t"/> times the mask this method computes for it (PyTorch's <c>prune</c>), without touching
    /// any module. <paramref name="importanceScores"/> (same shape) rank the entries in place of <paramref name="t"/>.
    /// </summary>
    public Tensor Prune(Tensor t, Tensor? defaultMask = null, Tensor? importanceScores = null)
    {
        if (importanceScores != null && !Shapes.Equal(importanceScores.Shape, t.Shape))
            throw new ArgumentException(
                $"importance_scores should have the same shape as tensor t: expected {Shapes.Format(t.Shape)}, got {Shapes.Format(importanceScores.Shape)}");
        if (defaultMask != null && !Shapes.Equal(defaultMask.Shape, t.Shape))
            throw new ArgumentException(
                $"default_mask should have the same shape as tensor t: expected {Shapes.Format(t.Shape)}, got {Shapes.Format(defaultMask.Shape)}");
        Tensor mask;
        using (GradMode.NoGrad())
            mask = ComputeMask(importanceScores ?? t, defaultMask ?? Tensor.OnesLike(t));
        PruningErrors.ValidateMaskShape(mask, t.Shape, GetType().Name + ".ComputeMask");
        return t * mask;
    }

    /// <summary>
    /// Makes the pruning permanent: <c>name</c> becomes a parameter again holding <c>orig * mask</c>, written into
    /// the very <c>name_orig</c> tensor object (optimizers keep their reference); <c>name_orig</c>,
    /// <c>name_mask</c> and this method's hook are dropped. Pruning itself is not undone.
    /// </summary>
    public void Remove(Module module)
    {
        var name = TensorName ?? throw new InvalidOperationException($"Module {module.TypeName} has to be pruned before pruning can be removed");
        foreach (var (_, h) in module.ForwardPreHooks)
            if (h is BasePruningMethod other && other.TensorName == name && !ReferenceEquals(other, this))
                throw new InvalidOperationException(
                    $"pruning of '{name}' on {module.TypeName} is managed by another hook ({other.GetType().Name}); use Prune.Remove(module, \"{name}\")");
        if (!module.HasParameter(name + "_orig") || !module.HasBuffer(name + "_mask"))
            throw new InvalidOperationException($"Parameter '{name}' of module {module.TypeName} has to be pruned before pruning can be removed");

        var orig = module[name + "_orig"]!;
        using (GradMode.NoGrad())
            orig.CopyFrom(ApplyMask(module));
        if (module.HasAttribute(name)) module.DeleteAttribute(name);
        module.DeleteAttribute(name + "_orig");
        module.DeleteAttribute(name + "_mask");
        module.RegisterParameter(name, orig);
        foreach (var (id, h) in module.ForwardPreHooks.ToArray())
            if (ReferenceEquals(h, this)) module.RemoveForwardPreHook(id);
        HookId = null;
    }

    /// <summary>
    /// Prunes <c>module[name]</c> with <paramref name="method"/> (a fresh instance), as PyTorch's
    /// <c>BasePruningMethod.apply</c>: on a first pruning the reparametrisation is created; on later ones the new
    /// mask is computed on the still-unpruned part (see <see cref="PruningContainer"/>) and the hook becomes a
    /// container holding the history. Returns the hook now registered (the method or the container).
    /// </summary>
    /// <param name="importanceScores">Scores of the parameter's shape ranking its entries; by default the
    /// current effective (masked) values.</param>
    public static BasePruningMethod Apply(Module module, string name, BasePruningMethod method, Tensor? importanceScores = null)
    {
        ArgumentNullException.ThrowIfNull(module);
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(method);
        if (method is PruningContainer)
            throw new ArgumentException("a PruningContainer cannot be applied; apply its methods one by one and the container is built for you");
        if (method._applied)
            throw new InvalidOperationException(
                $"this {method.GetType().Name} is already applied to '{method.TensorName}'; create a new instance for each pruning");

        var (oldId, old, current) = Inspect(module, name);
        if (importanceScores != null && !Shapes.Equal(importanceScores.Shape, current.Shape))
            throw new ArgumentException(
                $"importance_scores should have the same shape as parameter {name} of {module.TypeName}: expected {Shapes.Format(current.Shape)}, got {Shapes.Format(importanceScores.Shape)}");

        // Everything that can fail happens here, before the module is touched.
        var previousName = method.TensorName;
        method.TensorName = name;
        Tensor mask;
        try
        {
            using (GradMode.NoGrad())
            {
                var scores = importanceScores ?? current;
                var defaultMask = old == null ? Tensor.OnesLike(current) : module[name + "_mask"]!.Clone();
                mask = old == null ? method.ComputeMask(scores, defaultMask) : PruningContainer.CombineMasks(method, scores, defaultMask);
            }
            PruningErrors.ValidateMaskShape(mask, current.Shape, method.GetType().Name + ".ComputeMask");
        }
        catch
        {
            method.TensorName = previousName;
            throw;
        }
        mask = mask.Clone(); // a fresh leaf the module owns, never aliasing the scores, the default mask or a user's tensor

        BasePruningMethod hook;
        if (old == null)
        {
            module.RegisterParameter(name + "_orig", current); // the same tensor object: optimizers keep working
            module.DeleteAttribute(name);
            module.RegisterBuffer(name + "_mask", mask);
            hook = method;
        }
        else
        {
            module.RemoveForwardPreHook(oldId);
            old.HookId = null;
            module[name + "_mask"] = mask;
            if (old is PruningContainer container) { container.Add(method); hook = container; }
            else hook = new PruningContainer(old, method);
        }
        module[name] = hook.ApplyMask(module);
        hook.HookId = module.RegisterForwardPreHook(hook).Id;
        method._applied = true;
        return hook;
    }

    /// <summary>
    /// Checks that <c>module[name]</c> can be pruned and returns its pruning hook (if already pruned) with the
    /// values to rank. Throws, touching nothing, when it cannot.
    /// </summary>
    internal static (int HookId, BasePruningMethod? Hook, Tensor Current) Inspect(Module module, string name)
    {
        var (id, hook) = FindHook(module, name);
        var current = EffectiveTensor(module, name, pruned: hook != null);
        if (hook == null)
            foreach (var suffix in new[] { "_orig", "_mask" })
                if (module.HasAttribute(name + suffix))
                    throw new InvalidOperationException(
                        $"{module.TypeName} already has an attribute '{name}{suffix}' but '{name}' has no pruning hook; cannot reparametrise '{name}'");
        return (id, hook, current);
    }

    /// <summary>The pruning hook registered for <paramref name="name"/> (at most one), or (0, null).</summary>
    internal static (int Id, BasePruningMethod? Hook) FindHook(Module module, string name)
    {
        (int, BasePruningMethod?) found = (0, null);
        int count = 0;
        foreach (var (id, h) in module.ForwardPreHooks)
            if (h is BasePruningMethod p && p.TensorName == name) { found = (id, p); count++; }
        if (count > 1)
            throw new InvalidOperationException(
                $"Avoid adding multiple pruning hooks to the same tensor {name} of module {module.TypeName}. Use a PruningContainer.");
        return found;
    }

    /// <summary>
    /// The values pruning ranks: the parameter itself on a first pruning, else <c>name_orig * name_mask</c>
    /// computed now (no graph).
    /// </summary>
    internal static Tensor EffectiveTensor(Module module, string name, bool pruned)
    {
        if (pruned)
        {
            if (!module.HasParameter(name + "_orig") || !module.HasBuffer(name + "_mask"))
                throw new InvalidOperationException(
                    $"{module.TypeName} has a pruning hook for '{name}' but no '{name}_orig' parameter and '{name}_mask' buffer");
            return MaskIndexing.Multiply(module[name + "_orig"]!, module[name + "_mask"]!);
        }
        if (!module.HasParameter(name))
        {
            string what = module.HasBuffer(name) ? "a buffer" : module.HasAttribute(name) ? "a plain attribute" : "missing";
            throw new ArgumentException($"{module.TypeName} has no parameter named '{name}' ({what}); only parameters can be pruned");
        }
        return module[name] ?? throw new ArgumentException($"parameter '{name}' of {module.TypeName} is None; there is nothing to prune");
    }

    public override string ToString() => GetType().Name + "()";
}
