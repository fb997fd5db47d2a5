using System.Globalization;

namespace SharpPrune.Optim;

/// <summary>
/// Base of the optimizers: one parameter group, PyTorch's update rules. Updates are written in place into each
/// parameter's storage (a pruned layer's <c>weight_orig</c> is that same object), with no allocation per step once
/// the lazily created state buffers exist. State is keyed "index.name" (e.g. "3.exp_avg") by parameter index, so a
/// checkpoint can be restored into an optimizer built over the same parameter list.
/// </summary>
public abstract class Optimizer
{
    private readonly Tensor[] _params;
    private readonly int[] _numel;
    private double _lr;
    private float[] _scratchA = Array.Empty<float>(), _scratchB = Array.Empty<float>();

    protected Optimizer(IEnumerable<Tensor> parameters, double lr)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        _params = parameters.ToArray();
        if (_params.Length == 0) throw new ArgumentException("optimizer got an empty parameter list", nameof(parameters));
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < _params.Length; i++)
        {
            if (_params[i] is null) throw new ArgumentNullException(nameof(parameters), $"parameter {i} is null");
            // The same tensor twice would be updated twice per step and get two state slots.
            if (!seen.Add(_params[i])) throw new ArgumentException($"parameter {i} appears more than once in the parameter list", nameof(parameters));
        }
        _numel = _params.Select(p => p.Numel).ToArray();
        LearningRate = lr;
    }

    public IReadOnlyList<Tensor> Parameters => _params;

    /// <summary>The current learning rate (schedulers write it).</summary>
    public double LearningRate
    {
        get => _lr;
        set
        {
            if (!(value >= 0) || double.IsInfinity(value)) throw new ArgumentOutOfRangeException(nameof(value), value, $"Invalid learning rate: {StateText.Format(value)}");
            _lr = value;
        }
    }

    /// <summary>PyTorch's <c>initial_lr</c>: set by the first scheduler attached, the base of its schedule.</summary>
    public double? InitialLearningRate { get; set; }

    /// <summary>How many times <see cref="Step"/> has run.</summary>
    public int StepCount { get; set; }

    /// <summary>The name written to checkpoints ("SGD", "Adam", "AdamW").</summary>
    public virtual string TypeName => GetType().Name;

    /// <summary>Updates every parameter that has a gradient (parameters whose Grad is null are skipped).</summary>
    public void Step()
    {
        EnsureScratch();
        for (int i = 0; i < _params.Length; i++)
        {
            var p = _params[i];
            var g = p.Grad;
            if (g is null) continue;
            if (!Shapes.Equal(g.Shape, p.Shape))
                throw new InvalidOperationException($"parameter {i}: gradient shape {Shapes.Format(g.Shape)} does not match parameter shape {Shapes.Format(p.Shape)}");
            UpdateParameter(i, p, p.Data, g.Data);
            p.MarkChanged();
        }
        StepCount++;
    }

    /// <summary>Applies one update in place: <paramref name="p"/> is <paramref name="param"/>'s storage, <paramref name="g"/> its gradient.</summary>
    protected abstract void UpdateParameter(int index, Tensor param, Span<float> p, ReadOnlySpan<float> g);


    /// <summary>Zeros the gradients in place, keeping their buffers (PyTorch 1.13's default set_to_none=False).</summary>
    public void ZeroGrad()
    {
        for (int i = 0; i < _params.Length; i++)
        {
            var g = _params[i].Grad;
            if (g is null) continue;
            if (Shapes.Equal(g.Shape, _params[i].Shape)) { g.Data.Clear(); g.MarkChanged(); }
            else g.Zero_();
        }
    }

    /// <summary>Two work spans of the parameter's size, shared by all parameters (allocated once, on the first step).</summary>
    protected Span<float> ScratchA(int n) => _scratchA.AsSpan(0, n);
    protected Span<float> ScratchB(int n) => _scratchB.AsSpan(0, n);

    private void EnsureScratch()
    {
        int max = 0;
        foreach (int n in _numel) max = Math.Max(max, n);
        if (_scratchA.Length < max) { _scratchA = new float[max]; _scratchB = new float[max]; }
    }

    // ---------- state ----------

    /// <summary>State names in PyTorch's order, e.g. "momentum_buffer" or "step", "exp_avg", "exp_avg_sq".</summary>
    protected abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>True for one-element state (Adam's "step"); the others have the parameter's shape.</summary>
    protected virtual bool IsScalarState(string name) => false;

    /// <summary>The state value of one parameter, or null when it has none yet.</summary>
    protected abstract Tensor? GetState(int index, string name);

    /// <summary>Replaces one state value (null clears it); the tensor is already validated and owned by the optimizer.</summary>
    protected abstract void SetState(int index, string name, Tensor? value);

    /// <summary>Checks that one parameter's loaded state is complete and consistent; adds messages to <paramref name="errors"/>.</summary>
    protected virtual void ValidateState(int index, IReadOnlyDictionary<string, Tensor> state, List<string> errors) { }

    /// <summary>The per-parameter state as "index.name" tensors (live buffers, not copies).</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors()
    {
        for (int i = 0; i < _params.Length; i++)
            foreach (var name in StateNames)
                if (GetState(i, name) is { } t) yield return new($"{i}.{name}", t);
    }

    /// <summary>
    /// Replaces all state with <paramref name="state"/> (as from <see cref="StateTensors"/>): parameters without
    /// entries start fresh. Everything is validated first; on error nothing changes.
    /// </summary>
    public void LoadStateTensors(IEnumerable<KeyValuePair<string, Tensor>> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var perParam = new Dictionary<int, Dictionary<string, Tensor>>();
        var errors = new List<string>();
        foreach (var (key, t) in state)
        {
            int dot = key.IndexOf('.');
            if (dot <= 0 || !int.TryParse(key.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out int i))
            { errors.Add($"'{key}' is not of the form '<parameter index>.<state name>'"); continue; }
            string name = key[(dot + 1)..];
            if (i >= _params.Length) { errors.Add($"'{key}': parameter index {i} out of range, this optimizer has {_params.Length} parameters"); continue; }
            if (!StateNames.Contains(name)) { errors.Add($"'{key}': unknown state '{name}' for {TypeName} (expected one of {string.Join(", ", StateNames)})"); continue; }
            bool shapeOk = IsScalarState(name) ? t.Numel == 1 : Shapes.Equal(t.Shape, _params[i].Shape);
            if (!shapeOk)
            {
                string want = IsScalarState(name) ? "one element" : $"shape {Shapes.Format(_params[i].Shape)}";
                errors.Add($"'{key}': shape {Shapes.Format(t.Shape)} but parameter {i} needs {want}");
                continue;
            }
            if (!perParam.TryGetValue(i, out var d)) perParam[i] = d = new Dictionary<string, Tensor>();
            if (!d.TryAdd(name, t)) errors.Add($"'{key}' appears more than once");
        }
        foreach (var (i, d) in perParam) ValidateState(i, d, errors);
        if (errors.Count > 0)
            throw new ArgumentException($"cannot load {TypeName} state:\n\t" + string.Join("\n\t", errors), nameof(state));

        for (int i = 0; i < _params.Length; i++)
            foreach (var name in StateNames)
                SetState(i, name, perParam.TryGetValue(i, out var d) && d.TryGetValue(name, out var t) ? t.Clone() : null);
    }

    // ---------- hyperparameters ----------

    /// <summary>Everything needed to rebuild this optimizer's settings: type, lr, step count and the class's own values.</summary>
    public IReadOnlyDictionary<string, string> Hyperparameters()
    {
        var d = new Dictionary<string, string> { ["type"] = TypeName, ["lr"] = StateText.Format(LearningRate), ["step_count"] = StateText.Format(StepCount) };
        if (InitialLearningRate is { } init) d["initial_lr"] = StateText.Format(init);
        foreach (var kv in OwnHyperparameters()) d[kv.Key] = kv.Value;
        return d;
    }

    /// <summary>
    /// Restores values written by <see cref="Hyperparameters"/> (as PyTorch's load_state_dict overwrites the
    /// param group). Keys not given keep their current value; an unknown key or a different type is an error.
    /// </summary>
    public void LoadHyperparameters(IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(values);
        if (values.TryGetValue("type", out var type) && type != TypeName)
            throw new ArgumentException($"hyperparameters are for a {type} optimizer, this one is {TypeName}", nameof(values));
        var before = Hyperparameters();
        try
        {
            Apply(values);
            ValidateHyperparameters();
        }
        catch
        {
            // Roll back so a bad checkpoint leaves the optimizer as it was.
            InitialLearningRate = null;
            Apply(before);
            throw;
        }
    }

    private void Apply(IReadOnlyDictionary<string, string> values)
    {
        foreach (var (k, v) in values)
        {
            switch (k)
            {
                case "type": break;
                case "lr": LearningRate = ParseDouble(k, v); break;
                case "initial_lr": InitialLearningRate = ParseDouble(k, v); break;
                case "step_count": StepCount = StateText.ParseInt("hyperparameter", k, v, NumberStyles.None); break;
                default:
                    if (!SetOwnHyperparameter(k, v))
                        throw new ArgumentException($"unknown {TypeName} hyperparameter '{k}'", nameof(values));
                    break;
            }
        }
    }

    protected abstract IEnumerable<KeyValuePair<string, string>> OwnHyperparameters();

    /// <summary>Sets one class-specific value; false if the key is not one of this class's.</summary>
    protected abstract bool SetOwnHyperparameter(string key, string value);

    /// <summary>Throws (with PyTorch's messages) if the current values are invalid.</summary>
    protected abstract void ValidateHyperparameters();

    // ---------- parsing (StateText holds the one format) ----------

    protected static double ParseDouble(string key, string value) => StateText.ParseDouble("hyperparameter", key, value);
    protected static bool ParseBool(string key, string value) => StateText.ParseBool("hyperparameter", key, value);
}
