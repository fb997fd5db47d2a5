using System.Globalization;

namespace SharpPrune.Optim;

/// <summary>torch.optim.lr_scheduler.StepLR: multiply the rate by gamma every <see cref="StepSize"/> steps.</summary>
public sealed class StepLR : LRScheduler
{
    public int StepSize { get; private set; }
    public double Gamma { get; private set; }

    public StepLR(Optimizer optimizer, int stepSize, double gamma = 0.1) : base(optimizer)
    {
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "step_size must be at least 1");
        StepSize = stepSize;
        Gamma = gamma;
        InitialStep();
    }

    protected override double ComputeLr(double lr) =>
        LastEpoch == 0 || LastEpoch % StepSize != 0 ? lr : lr * Gamma;

    /// <summary>PyTorch's closed form, base_lr·γ^⌊epoch/step_size⌋ (equal to the recursive rate up to rounding).</summary>
    public double ClosedFormLr(int epoch) => BaseLr * Math.Pow(Gamma, epoch / StepSize);

    protected override IEnumerable<KeyValuePair<string, string>> Settings() => new Dictionary<string, string>
    {
        ["step_size"] = StateText.Format(StepSize),
        ["gamma"] = StateText.Format(Gamma),
    };

    protected override void LoadSettings(IReadOnlyDictionary<string, string> state)
    {
        int stepSize = ParseInt(state, "step_size");
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(state), stepSize, "scheduler state 'step_size' must be at least 1");
        Gamma = ParseDouble(state, "gamma");
        StepSize = stepSize;
    }
}

/// <summary>torch.optim.lr_scheduler.MultiStepLR: multiply by gamma at each milestone (a repeated milestone applies gamma that many times).</summary>
public sealed class MultiStepLR : LRScheduler
{
    private Dictionary<int, int> _counts = new();

    public double Gamma { get; private set; }
    /// <summary>Milestones in ascending order, repeats kept.</summary>
    public int[] Milestones { get; private set; } = Array.Empty<int>();

    public MultiStepLR(Optimizer optimizer, int[] milestones, double gamma = 0.1) : base(optimizer)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        SetMilestones(milestones);
        Gamma = gamma;
        InitialStep();
    }

    private void SetMilestones(int[] milestones)
    {
        Milestones = milestones.Order().ToArray();
        _counts = Milestones.GroupBy(m => m).ToDictionary(g => g.Key, g => g.Count());
    }

    protected override double ComputeLr(double lr) =>
        _counts.TryGetValue(LastEpoch, out int c) ? lr * Math.Pow(Gamma, c) : lr;

    /// <summary>PyTorch's closed form, base_lr·γ^(number of milestones ≤ epoch).</summary>
    public double ClosedFormLr(int epoch) => BaseLr * Math.Pow(Gamma, Milestones.Count(m => m <= epoch));

    protected override IEnumerable<KeyValuePair<string, string>> Settings() => new Dictionary<string, string>
    {
        ["milestones"] = string.Join(",", Milestones.Select(m => StateText.Format(m))),
        ["gamma"] = StateText.Format(Gamma),
    };

    protected override void LoadSettings(IReadOnlyDictionary<string, string> state)
    {
        string text = Required(state, "milestones");
        var parts = text.Length == 0 ? Array.Empty<string>() : text.Split(',');
        var ms = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out ms[i]))
                throw new FormatException($"scheduler state 'milestones': cannot parse '{text}' as comma-separated integers");
        Gamma = ParseDouble(state, "gamma");
        SetMilestones(ms);
    }
}

/// <summary>
/// torch.optim.lr_scheduler.CosineAnnealingLR, with PyTorch's recursive update (which also defines what happens
/// after T_max: the rate climbs back, period 2·T_max). <see cref="ClosedFormLr"/> gives the SGDR closed form.
/// </summary>
public sealed class CosineAnnealingLR : LRScheduler
{
    public int TMax { get; private set; }
    public double EtaMin { get; private set; }

    public CosineAnnealingLR(Optimizer optimizer, int tMax, double etaMin = 0) : base(optimizer)
    {
        if (tMax < 1) throw new ArgumentOutOfRangeException(nameof(tMax), tMax, "T_max must be at least 1");
        TMax = tMax;
        EtaMin = etaMin;
        InitialStep();
    }

    // Same expressions, in the same evaluation order, as torch 1.13's get_lr().
    protected override double ComputeLr(double lr)
    {
        if (LastEpoch == 0) return lr;
        if ((LastEpoch - 1 - TMax) % (2 * TMax) == 0)
            return lr + (BaseLr - EtaMin) * (1 - Math.Cos(Math.PI / TMax)) / 2;
        return (1 + Math.Cos(Math.PI * LastEpoch / TMax)) / (1 + Math.Cos(Math.PI * (LastEpoch - 1) / TMax)) * (lr - EtaMin) + EtaMin;
    }

    public double ClosedFormLr(int epoch) => EtaMin + (BaseLr - EtaMin) * (1 + Math.Cos(Math.PI * epoch / TMax)) / 2;

    protected override IEnumerable<KeyValuePair<string, string>> Settings() => new Dictionary<string, string>
    {
        ["t_max"] = StateText.Format(TMax),
        ["eta_min"] = StateText.Format(EtaMin),
    };

    protected override void LoadSettings(IReadOnlyDictionary<string, string> state)
    {
        int tMax = ParseInt(state, "t_max");
        if (tMax < 1) throw new ArgumentOutOfRangeException(nameof(state), tMax, "scheduler state 't_max' must be at least 1");
        EtaMin = ParseDouble(state, "eta_min");
        TMax = tMax;
    }
}
