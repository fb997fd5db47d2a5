using SharpPrune.Autograd;

namespace SharpPrune.NN;

/// <summary>A forward pre-hook: may return a replacement input, or null to keep it.</summary>
public interface IForwardPreHook
{
    Tensor? Invoke(Module module, Tensor input);
}

/// <summary>A forward hook: may return a replacement output, or null to keep it.</summary>
public interface IForwardHook
{
    Tensor? Invoke(Module module, Tensor input, Tensor output);
}

/// <summary>
/// Marks a hook that keeps no reference to the tensors it is passed, so containers may still recycle
/// activations around the module it is registered on (pruning's pre-hook is one). See ActivationMemory.
/// </summary>
public interface IRetainsNoTensors { }

/// <summary>
/// Base of every layer and model. Parameters, buffers and submodules are registered explicitly in
/// constructors (no reflection) and named with PyTorch's dotted paths. The only public way to run a module is
/// <see cref="Forward"/>, which always runs the hooks: pruning's pre-hook cannot be bypassed.
/// </summary>
public abstract class Module
{
    private readonly List<KeyValuePair<string, Tensor?>> _parameters = new();
    private readonly List<KeyValuePair<string, Tensor?>> _buffers = new();
    private readonly HashSet<string> _nonPersistent = new();
    private readonly List<KeyValuePair<string, Module>> _modules = new();
    private readonly Dictionary<string, Tensor> _attributes = new();
    private readonly SortedDictionary<int, IForwardPreHook> _preHooks = new();
    private readonly SortedDictionary<int, IForwardHook> _hooks = new();
    private static int _nextHookId;

    public bool Training { get; private set; } = true;

    /// <summary>The class name shown in summaries and reprs (e.g. "Conv2d").</summary>
    public virtual string TypeName => GetType().Name;

    [ThreadStatic] private static int t_forwardDepth;

    /// <summary>Runs the pre-hooks, the module's computation, then the forward hooks.</summary>
    public Tensor Forward(Tensor input)
    {
        // A top-level forward while recording hands its intermediates to the graph, to be released after the
        // backward (see ActivationMemory).
        if (t_forwardDepth == 0 && GradMode.IsEnabled && RetainsNoTensors()) return ActivationMemory.ScopedForward(this, input);
        return NestedForward(input);
    }

    internal Tensor NestedForward(Tensor input)
    {
        t_forwardDepth++;
        try { return RunForward(input); }
        finally { t_forwardDepth--; }
    }

    /// <summary>Runs the pre-hooks only; what a container that fuses this module with the next ones calls.</summary>
    internal Tensor RunPreHooks(Tensor input)
    {
        foreach (var h in _preHooks.Values.ToArray())
            input = h.Invoke(this, input) ?? input;
        return input;
    }

    private Tensor RunForward(Tensor input)
    {
        input = RunPreHooks(input);
        var output = ForwardCore(input);
        foreach (var h in _hooks.Values.ToArray())
            output = h.Invoke(this, input, output) ?? output;
        return output;
    }

    /// <summary>The module's computation. Protected: callers go through <see cref="Forward"/> so hooks always run.</summary>
    protected abstract Tensor ForwardCore(Tensor input);

    // ---------- what the memory model needs to know (see ActivationMemory) ----------

    /// <summary>
    /// Whether this module's own forward may keep a reference to a tensor it receives or returns after the call
    /// (a cache, a recording). Modules declared by SharpPrune's own libraries keep none; any other module is
    /// assumed to, unless it overrides this with false (or its assembly carries
    /// <see cref="ModulesRetainNoTensorsAttribute"/>). A module that may keep tensors turns activation recycling
    /// off around itself: slower, never wrong.
    /// </summary>
    protected virtual bool MayRetainTensors => _mayRetainByDefault;

    private readonly bool _mayRetainByDefault;

    protected Module() { _mayRetainByDefault = ActivationMemory.MayRetainByDefault(GetType()); }

    /// <summary>True when neither this module, its descendants, nor their hooks may keep a tensor.</summary>
    internal bool RetainsNoTensors()
    {
        if (MayRetainTensors) return false;
        foreach (var h in _preHooks.Values) if (h is not IRetainsNoTensors) return false;
        foreach (var h in _hooks.Values) if (h is not IRetainsNoTensors) return false;
        foreach (var kv in _modules) if (!kv.Value.RetainsNoTensors()) return false;
        return true;
    }

    internal bool HasPreHooks => _preHooks.Count != 0;
    internal bool HasForwardHooks => _hooks.Count != 0;

    /// <summary>The storage of this module's own parameters (and their gradients), buffers and tensor attributes.</summary>
    internal void AddHeldStorage(HashSet<float[]> keep)
    {
        foreach (var kv in _parameters) if (kv.Value != null) { keep.Add(kv.Value.Storage); if (kv.Value.Grad != null) keep.Add(kv.Value.Grad.Storage); }
        foreach (var kv in _buffers) if (kv.Value != null) keep.Add(kv.Value.Storage);
        foreach (var t in _attributes.Values) keep.Add(t.Storage);
    }

    // ---------- registration ----------

    /// <summary>Registers (or replaces) a parameter. The tensor object itself is stored: it stays the same object.</summary>
    public Tensor? RegisterParameter(string name, Tensor? value)
    {
        ValidateName(name);
        if (IndexOf(_buffers, name) >= 0 || IndexOfChild(name) >= 0)
            throw new ArgumentException($"attribute '{name}' already exists on {TypeName} as a buffer or submodule");
        _attributes.Remove(name);
        if (value != null && !value.IsLeaf)
            throw new ArgumentException($"cannot assign a non-leaf tensor as parameter '{name}': parameters must be leaves (use Detach())");
        Set(_parameters, name, value);
        return value;
    }

    /// <summary>Registers a new trainable parameter (RequiresGrad set), as layers do in their constructors.</summary>
    protected Tensor AddParameter(string name, Tensor value) => RegisterParameter(name, value.RequiresGrad_())!;

    /// <summary>Registers a buffer; non-persistent buffers are left out of the state dict.</summary>
    public Tensor? RegisterBuffer(string name, Tensor? value, bool persistent = true)
    {
        ValidateName(name);
        if (IndexOf(_parameters, name) >= 0 || IndexOfChild(name) >= 0)
            throw new ArgumentException($"attribute '{name}' already exists on {TypeName} as a parameter or submodule");
        _attributes.Remove(name);
        Set(_buffers, name, value);
        if (persistent) _nonPersistent.Remove(name); else _nonPersistent.Add(name);
        return value;
    }

    /// <summary>
    /// Registers a submodule, or replaces the one registered under <paramref name="name"/> in place (same position):
    /// the registry is the only record of a module's children, so a replacement changes what runs, what the state
    /// dict holds and which hooks fire.
    /// </summary>
    public T RegisterModule<T>(string name, T module) where T : Module
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(module);
        if (IndexOf(_parameters, name) >= 0 || IndexOf(_buffers, name) >= 0)
            throw new ArgumentException($"attribute '{name}' already exists on {TypeName} as a parameter or buffer");
        int i = IndexOfChild(name);
        if (i >= 0) _modules[i] = new(name, module);
        else { _modules.Add(new(name, module)); _childNamesVersion++; }
        return module;
    }

    // ---------- children without lookups (for forwards) ----------

    private int _childNamesVersion;
    private ChildView? _childView;

    /// <summary>The children in registration order, as a live read-only list (allocated once per module).</summary>
    protected internal IReadOnlyList<Module> ChildList => _childView ??= new ChildView(this);

    private int IndexOfChild(string name)
    {
        for (int i = 0; i < _modules.Count; i++) if (_modules[i].Key == name) return i;
        return -1;
    }

    /// <summary>
    /// Where a named child sits in the registry, found once and again only after a child name was added: a
    /// forward reads its children through a <see cref="ChildSlot"/> without a string lookup per call, and still
    /// runs whatever module is registered under the name now.
    /// </summary>
    protected struct ChildSlot
    {
        internal int Index;
        internal int Version; // the owner's child-names version + 1 when Index was found; 0: never looked up
    }

    /// <summary>The child registered as <paramref name="name"/> (null when there is none), via its cached slot.</summary>
    protected Module? ChildOrNull(string name, ref ChildSlot slot)
    {
        if (slot.Version != _childNamesVersion + 1) slot = new ChildSlot { Index = IndexOfChild(name), Version = _childNamesVersion + 1 };
        return slot.Index < 0 ? null : _modules[slot.Index].Value;
    }

    /// <summary>The child registered as <paramref name="name"/>, via its cached slot; throws when there is none.</summary>
    protected Module Child(string name, ref ChildSlot slot) =>
        ChildOrNull(name, ref slot) ?? throw new InvalidOperationException($"{TypeName} has no submodule '{name}'");

    /// <summary>As <see cref="Child"/>, typed: throws naming both types when the child was replaced by another kind.</summary>
    protected T Child<T>(string name, ref ChildSlot slot) where T : Module =>
        Child(name, ref slot) as T ?? throw new InvalidOperationException(
            $"{TypeName}.{name} is a {Child(name, ref slot).TypeName}, not a {typeof(T).Name}");

    private sealed class ChildView(Module owner) : IReadOnlyList<Module>
    {
        public Module this[int index] => owner._modules[index].Value;
        public int Count => owner._modules.Count;
        public IEnumerator<Module> GetEnumerator() { for (int i = 0; i < owner._modules.Count; i++) yield return owner._modules[i].Value; }
        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }

    private static void ValidateName(string name)
    {
        if (string.IsNullOrEmpty(name)) throw new ArgumentException("name must not be empty");
        if (name.Contains('.')) throw new ArgumentException($"name '{name}' must not contain '.'");
    }

    // ---------- attribute access (PyTorch's getattr/setattr/delattr) ----------

    /// <summary>
    /// Looks a tensor up as a parameter, a buffer or a plain tensor attribute, in that order (PyTorch's
    /// getattr). Setting replaces a parameter's or buffer's value, or sets a plain attribute.
    /// </summary>
    public Tensor? this[string name]
    {
        get => TryGet(name, out var t) ? t : throw new KeyNotFoundException($"'{TypeName}' object has no attribute '{name}'");
        set
        {
            int p = IndexOf(_parameters, name);
            if (p >= 0) { RegisterParameter(name, value); return; }
            int b = IndexOf(_buffers, name);
            if (b >= 0) { _buffers[b] = new(name, value); return; }
            if (value == null) _attributes.Remove(name); else _attributes[name] = value;
        }
    }

    public bool TryGet(string name, out Tensor? value)
    {
        int p = IndexOf(_parameters, name);
        if (p >= 0) { value = _parameters[p].Value; return true; }
        int b = IndexOf(_buffers, name);
        if (b >= 0) { value = _buffers[b].Value; return true; }
        return _attributes.TryGetValue(name, out value);
    }

    public bool HasAttribute(string name) => TryGet(name, out _);
    public bool HasParameter(string name) => IndexOf(_parameters, name) >= 0;
    public bool HasBuffer(string name) => IndexOf(_buffers, name) >= 0;

    /// <summary>Removes a parameter, buffer or plain attribute (PyTorch's delattr).</summary>
    public void DeleteAttribute(string name)
    {
        int p = IndexOf(_parameters, name);
        if (p >= 0) { _parameters.RemoveAt(p); return; }
        int b = IndexOf(_buffers, name);
        if (b >= 0) { _buffers.RemoveAt(b); _nonPersistent.Remove(name); return; }
        if (!_attributes.Remove(name)) throw new KeyNotFoundException($"'{TypeName}' object has no attribute '{name}'");
    }

    /// <summary>A tensor the computation needs (weight, bias…): throws a clear error when absent.</summary>
    protected Tensor Get(string name) => this[name] ?? throw new InvalidOperationException($"{TypeName}.{name} is None");
    protected Tensor? GetOptional(string name) => TryGet(name, out var t) ? t : null;

    // ---------- traversal ----------

    public IEnumerable<(string Name, Tensor Parameter)> NamedParameters(string prefix = "", bool recurse = true)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        foreach (var (mp, m) in recurse ? NamedModules(prefix) : new[] { (prefix, this) })
            foreach (var kv in m._parameters)
                if (kv.Value != null && seen.Add(kv.Value)) yield return (Join(mp, kv.Key), kv.Value);
    }

    public IEnumerable<Tensor> Parameters(bool recurse = true) => NamedParameters("", recurse).Select(p => p.Parameter);

    public IEnumerable<(string Name, Tensor Buffer)> NamedBuffers(string prefix = "", bool recurse = true)
    {
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance); // one tensor, one entry (as parameters)
        foreach (var (mp, m) in recurse ? NamedModules(prefix) : new[] { (prefix, this) })
            foreach (var kv in m._buffers)
                if (kv.Value != null && seen.Add(kv.Value)) yield return (Join(mp, kv.Key), kv.Value);
    }

    public IEnumerable<(string Name, Module Module)> NamedChildren() => _modules.Select(kv => (kv.Key, kv.Value));
    public IEnumerable<Module> Children() => _modules.Select(kv => kv.Value);

    /// <summary>This module and all descendants, pre-order, with dotted names ("" for this one).</summary>
    public IEnumerable<(string Name, Module Module)> NamedModules(string prefix = "")
    {
        var seen = new HashSet<Module>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<(string, Module)>();
        stack.Push((prefix, this));
        while (stack.Count > 0)
        {
            var (n, m) = stack.Pop();
            if (!seen.Add(m)) continue;
            yield return (n, m);
            for (int i = m._modules.Count - 1; i >= 0; i--) stack.Push((Join(n, m._modules[i].Key), m._modules[i].Value));
        }
    }

    public IEnumerable<Module> Modules() => NamedModules().Select(m => m.Module);

    /// <summary>
    /// Pre-order like <see cref="NamedModules"/> but a module reachable under two names is visited under both, as
    /// PyTorch's state_dict recursion does: a shared layer is saved once per name.
    /// </summary>
    private IEnumerable<(string Name, Module Module)> ModulesWithDuplicates(string prefix)
    {
        var stack = new Stack<(string, Module)>();
        stack.Push((prefix, this));
        while (stack.Count > 0)
        {
            var (n, m) = stack.Pop();
            yield return (n, m);
            for (int i = m._modules.Count - 1; i >= 0; i--) stack.Push((Join(n, m._modules[i].Key), m._modules[i].Value));
        }
    }

    /// <summary>The submodule at a dotted path ("features.0"); "" is this module.</summary>
    public Module GetSubmodule(string path)
    {
        if (path.Length == 0) return this;
        Module cur = this;
        foreach (var part in path.Split('.'))
        {
            int i = cur.IndexOfChild(part);
            if (i < 0) throw new KeyNotFoundException($"{cur.TypeName} has no submodule '{part}' (path '{path}')");
            cur = cur._modules[i].Value;
        }
        return cur;
    }

    private static string Join(string prefix, string name) => prefix.Length == 0 ? name : prefix + "." + name;

    // ---------- modes ----------

    public Module Train(bool mode = true)
    {
        foreach (var m in Modules()) m.Training = mode;
        return this;
    }

    public Module Eval() => Train(false);

    public void ZeroGrad()
    {
        foreach (var p in Parameters()) p.Grad?.Zero_();
    }

    // ---------- hooks ----------

    public IReadOnlyDictionary<int, IForwardPreHook> ForwardPreHooks => _preHooks;
    public IReadOnlyDictionary<int, IForwardHook> ForwardHooks => _hooks;

    public HookHandle RegisterForwardPreHook(IForwardPreHook hook)
    {
        int id = Interlocked.Increment(ref _nextHookId);
        _preHooks[id] = hook;
        return new HookHandle(() => RemoveForwardPreHook(id), id);
    }

    public HookHandle RegisterForwardPreHook(Func<Module, Tensor, Tensor?> hook) => RegisterForwardPreHook(new LambdaPreHook(hook));

    public HookHandle RegisterForwardHook(IForwardHook hook)
    {
        int id = Interlocked.Increment(ref _nextHookId);
        _hooks[id] = hook;
        return new HookHandle(() => RemoveForwardHook(id), id);
    }

    public HookHandle RegisterForwardHook(Func<Module, Tensor, Tensor, Tensor?> hook) => RegisterForwardHook(new LambdaHook(hook));

    /// <summary>Removes a pre-hook by id (as PyTorch's <c>del module._forward_pre_hooks[k]</c>); the handle's Remove does the same.</summary>
    public bool RemoveForwardPreHook(int id) => _preHooks.Remove(id);

    /// <summary>Removes a forward hook by id (as PyTorch's <c>del module._forward_hooks[k]</c>); the handle's Remove does the same.</summary>
    public bool RemoveForwardHook(int id) => _hooks.Remove(id);

    private sealed record LambdaPreHook(Func<Module, Tensor, Tensor?> F) : IForwardPreHook
    {
        public Tensor? Invoke(Module module, Tensor input) => F(module, input);
    }

    private sealed record LambdaHook(Func<Module, Tensor, Tensor, Tensor?> F) : IForwardHook
    {
        public Tensor? Invoke(Module module, Tensor input, Tensor output) => F(module, input, output);
    }

    // ---------- state dict ----------

    /// <summary>
    /// Parameters and persistent buffers, PyTorch's order and dotted keys: a read-only snapshot of the keys whose
    /// values are the live tensors (change the model through its modules, not through this list).
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, Tensor>> StateDict(string prefix = "")
    {
        var result = new List<KeyValuePair<string, Tensor>>();
        foreach (var (mp, m) in ModulesWithDuplicates(prefix))
        {
            foreach (var kv in m._parameters)
                if (kv.Value != null) result.Add(new(Join(mp, kv.Key), kv.Value));
            foreach (var kv in m._buffers)
                if (kv.Value != null && !m._nonPersistent.Contains(kv.Key)) result.Add(new(Join(mp, kv.Key), kv.Value));
        }
        return result.AsReadOnly();
    }

    /// <summary>
    /// Copies values in place. With <paramref name="strict"/>, missing or unexpected keys throw; a shape
    /// mismatch always throws, naming the key and both shapes. Nothing is written unless everything checks.
    /// </summary>
    public LoadResult LoadStateDict(IEnumerable<KeyValuePair<string, Tensor>> stateDict, bool strict = true)
    {
        var own = StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        var given = new Dictionary<string, Tensor>();
        foreach (var kv in stateDict) given[kv.Key] = kv.Value;
        var missing = own.Keys.Where(k => !given.ContainsKey(k)).ToList();
        var unexpected = given.Keys.Where(k => !own.ContainsKey(k)).ToList();
        var errors = new List<string>();
        if (strict)
        {
            if (unexpected.Count > 0) errors.Add("Unexpected key(s) in state_dict: " + MessageText.List(unexpected, k => $"\"{k}\""));
            if (missing.Count > 0) errors.Add("Missing key(s) in state_dict: " + MessageText.List(missing, k => $"\"{k}\""));
        }
        int mismatches = 0;
        foreach (var (k, t) in own)
            if (given.TryGetValue(k, out var v) && !Shapes.Equal(v.Shape, t.Shape) && ++mismatches <= MessageText.MaxItems)
                errors.Add($"size mismatch for {MessageText.Name(k)}: copying a param with shape {Shapes.Format(v.Shape)} from checkpoint, the shape in current model is {Shapes.Format(t.Shape)}");
        if (mismatches > MessageText.MaxItems) errors.Add($"… and {mismatches - MessageText.MaxItems:N0} more size mismatches");
        if (errors.Count > 0)
            throw new StateDictException($"Error(s) in loading state_dict for {TypeName}:\n\t" + string.Join("\n\t", errors), missing, unexpected);
        using (GradMode.NoGrad())
            foreach (var (k, t) in own)
                if (given.TryGetValue(k, out var v)) t.CopyFrom(v);
        return new LoadResult(missing, unexpected);
    }

    private static int IndexOf(List<KeyValuePair<string, Tensor?>> list, string name)
    {
        for (int i = 0; i < list.Count; i++) if (list[i].Key == name) return i;
        return -1;
    }

    private static void Set(List<KeyValuePair<string, Tensor?>> list, string name, Tensor? value)
    {
        int i = IndexOf(list, name);
        if (i >= 0) list[i] = new(name, value); else list.Add(new(name, value));
    }

    /// <summary>Extra text for <see cref="ToString"/> (like PyTorch's extra_repr).</summary>
    public virtual string ExtraRepr() => "";

    public override string ToString() => Repr(0);

    private string Repr(int indent)
    {
        var pad = new string(' ', indent);
        if (_modules.Count == 0) return $"{TypeName}({ExtraRepr()})";
        var sb = new System.Text.StringBuilder();
        sb.Append(TypeName).Append('(').Append(ExtraRepr()).AppendLine();
        foreach (var kv in _modules) sb.Append(pad).Append("  (").Append(kv.Key).Append("): ").AppendLine(kv.Value.Repr(indent + 2));
        sb.Append(pad).Append(')');
        return sb.ToString();
    }
}

public sealed class HookHandle : IDisposable
{
    private Action? _remove;
    public int Id { get; }
    internal HookHandle(Action remove, int id) { _remove = remove; Id = id; }
    public void Remove() { _remove?.Invoke(); _remove = null; }
    public void Dispose() => Remove();
}

public sealed record LoadResult(IReadOnlyList<string> MissingKeys, IReadOnlyList<string> UnexpectedKeys);

public sealed class StateDictException : Exception
{
    public IReadOnlyList<string> MissingKeys { get; }
    public IReadOnlyList<string> UnexpectedKeys { get; }
    public StateDictException(string message, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected) : base(message)
    {
        MissingKeys = missing; UnexpectedKeys = unexpected;
    }
}
