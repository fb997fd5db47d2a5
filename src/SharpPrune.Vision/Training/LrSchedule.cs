using System.Globalization;
using SharpPrune.Optim;

namespace SharpPrune.Vision.Training;

/// <summary>
/// A learning-rate schedule stepped once per epoch:
/// <c>step:0.5,0.75</c> multiplies the rate by 0.1 at 50% and 75% of the epochs (cifar.py of Liu et al. 2019's pruning code),
/// <c>multistep:80,120</c> at those epochs, <c>cosine</c> anneals to 0 over the run, <c>none</c> keeps it fixed.
/// </summary>
public sealed record LrSchedule(string Kind, int[] Milestones, double Gamma, int Epochs)
{
    public const string Forms = "step:F1,F2,... (fractions of the epochs in (0, 1)), multistep:E1,E2,... (epochs), cosine, none";

    public static LrSchedule Parse(string spec, int epochs)
    {
        if (epochs < 1) throw new ArgumentOutOfRangeException(nameof(epochs), $"epochs must be >= 1, got {epochs}");
        ArgumentNullException.ThrowIfNull(spec);
        string s = spec.Trim().ToLowerInvariant();
        int colon = s.IndexOf(':');
        string kind = colon < 0 ? s : s[..colon];
        string? args = colon < 0 ? null : s[(colon + 1)..];
        switch (kind)
        {
            case "none" or "cosine" when args is null:
                return new LrSchedule(kind, [], 1.0, epochs);
            case "step" when args is not null:
                // cifar.py: `if epoch in [epochs*0.5, epochs*0.75]: lr *= 0.1` at the start of an epoch. Rounded
                // down, so short runs still decay; fractions that land on the same epoch (or on 0) decay once.
                var fractions = Numbers(args, spec, double.Parse);
                if (fractions.Any(f => !(f > 0 && f < 1)))
                    throw Bad(spec, "step fractions must be in (0, 1)");
                var at = fractions.Select(f => (int)Math.Floor(f * epochs)).Where(e => e > 0).Distinct().Order();
                return new LrSchedule("step", at.ToArray(), 0.1, epochs);
            case "multistep" when args is not null:
                var epochsAt = Numbers(args, spec, int.Parse);
                if (epochsAt.Any(e => e < 1)) throw Bad(spec, "multistep epochs must be >= 1");
                return new LrSchedule("multistep", Sorted(epochsAt, spec), 0.1, epochs);
            default:
                throw Bad(spec, null);
        }
    }

    /// <summary>The scheduler for <paramref name="optimizer"/>, or null for "none".</summary>
    public LRScheduler? Create(Optimizer optimizer) => Kind switch
    {
        "none" => null,
        "cosine" => new CosineAnnealingLR(optimizer, Epochs),
        _ => new MultiStepLR(optimizer, Milestones, Gamma),
    };

    private static T[] Numbers<T>(string args, string spec, Func<string, IFormatProvider, T> parse)
    {
        try
        {
            return args.Split(',', StringSplitOptions.TrimEntries).Select(a => parse(a, CultureInfo.InvariantCulture)).ToArray();
        }
        catch (FormatException)
        {
            throw Bad(spec, $"'{args}' is not a comma-separated list of numbers");
        }
    }

    private static int[] Sorted(IEnumerable<int> milestones, string spec)
    {
        var m = milestones.ToArray();
        for (int i = 1; i < m.Length; i++)
            if (m[i] <= m[i - 1]) throw Bad(spec, "milestones must be strictly increasing");
        return m;
    }

    private static ArgumentException Bad(string spec, string? why) =>
        new($"invalid learning-rate schedule '{spec}'{(why is null ? "" : $" ({why})")}; valid forms: {Forms}");
}
