using System.Globalization;

namespace SharpPrune.Optim;

/// <summary>
/// Base of the learning-rate schedulers, following torch.optim.lr_scheduler: construction performs the initial
/// step (LastEpoch becomes 0); each <see cref="Step"/> advances LastEpoch and writes the new rate into the
/// optimizer. Rates are computed with PyTorch's recursive (chainable) formulas from the optimizer's current rate,
/// so the sequence matches PyTorch's bit for bit; resuming from <see cref="StateDict"/> plus the optimizer's
/// saved rate continues it exactly.
/// </summary>
public abstract class LRScheduler
{
    private double _lastLr;

    protected LRScheduler(Optimizer optimizer)
    {
        Optimizer = optimizer ?? throw new ArgumentNullException(nameof(optimizer));
        // PyTorch: group.setdefault('initial_lr', group['lr']); base_lrs = initial_lr.
        optimizer.InitialLearningRate ??= optimizer.LearningRate;
        BaseLr = optimizer.InitialLearningRate.Value;
        LastEpoch = -1;
    }

    public Optimizer Optimizer { get; }

    /// <summary>Number of steps taken since construction's initial step (0 right after construction).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>The schedule's starting rate (PyTorch's base_lrs[0]).</summary>
    public double BaseLr { get; private set; }

    public virtual string TypeName => GetType().Name;

    /// <summary>Concrete constructors call this last, once their own fields are set (PyTorch's _initial_step).</summary>
    protected void InitialStep() => Step();

    public void Step()
    {
        LastEpoch++;
        double lr = ComputeLr(Optimizer.LearningRate);
        Optimizer.LearningRate = lr;
        _lastLr = lr;
    }

    /// <summary>PyTorch's get_lr(): the rate for <see cref="LastEpoch"/> given the optimizer's current rate.</summary>
    protected abstract double ComputeLr(double currentLr);

    /// <summary>The rate set by the last step, one entry per parameter group (we have one).</summary>
    public double[] GetLastLr() => new[] { _lastLr };

    /// <summary>Everything needed to resume: type, last_epoch, base_lr, last_lr and the schedule's settings.</summary>
    public IReadOnlyDictionary<string, string> StateDict()
    {
        var d = new Dictionary<string, string>
        {
            ["type"] = TypeName,
            ["last_epoch"] = StateText.Format(LastEpoch),
            ["base_lr"] = StateText.Format(BaseLr),
            ["last_lr"] = StateText.Format(_lastLr),
        };
        foreach (var kv in Settings()) d[kv.Key] = kv.Value;
        return d;
    }

    /// <summary>
    /// Restores a <see cref="StateDict"/> (like PyTorch's load_state_dict, it does not touch the optimizer: restore
    /// the optimizer's hyperparameters too, which carry the current rate). Validated before anything changes.
    /// </summary>
    public void LoadStateDict(IReadOnlyDictionary<string, string> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        string type = Required(state, "type");
        if (type != TypeName)
            throw new ArgumentException($"scheduler state is for {type}, this scheduler is {TypeName}", nameof(state));
        int lastEpoch = int.TryParse(Required(state, "last_epoch"), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int e) && e >= 0
            ? e : throw new FormatException($"scheduler state 'last_epoch' must be a non-negative integer, got '{state["last_epoch"]}'");
        double baseLr = ParseDouble(state, "base_lr"), lastLr = ParseDouble(state, "last_lr");
        foreach (var key in state.Keys)
            if (key is not ("type" or "last_epoch" or "base_lr" or "last_lr") && !Settings().Any(kv => kv.Key == key))
                throw new ArgumentException($"unknown {TypeName} state '{key}'", nameof(state));
        LoadSettings(state);
        LastEpoch = lastEpoch;
        BaseLr = baseLr;
        _lastLr = lastLr;
    }

    /// <summary>The schedule's own settings (e.g. step_size, gamma) as round-trip text.</summary>
    protected abstract IEnumerable<KeyValuePair<string, string>> Settings();

    /// <summary>Parses and validates all settings present in <paramref name="state"/>, then applies them (or throws, changing nothing).</summary>
    protected abstract void LoadSettings(IReadOnlyDictionary<string, string> state);

    protected static string Required(IReadOnlyDictionary<string, string> state, string key) =>
        state.TryGetValue(key, out var v) ? v : throw new ArgumentException($"scheduler state has no '{key}'", nameof(state));

    protected static double ParseDouble(IReadOnlyDictionary<string, string> state, string key) =>
        StateText.ParseDouble("scheduler state", key, Required(state, key));

    protected static int ParseInt(IReadOnlyDictionary<string, string> state, string key) =>
        StateText.ParseInt("scheduler state", key, Required(state, key));
}
