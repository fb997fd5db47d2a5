using System.Globalization;
using System.Text.RegularExpressions;

namespace SharpPrune.Pruning.Schedules;

/// <summary>
/// Gradual pruning as a user writes it (<c>sharpprune train --agp 'final=0.9,start=0,end=6,every=50'</c>):
/// <list type="bullet">
/// <item><c>final</c> (required) and <c>initial</c> (default 0): the sparsities s_f and s_i;</item>
/// <item><c>start</c>, <c>end</c>: epochs (may be fractional) where pruning begins and reaches s_f (defaults 0 and
/// three quarters of the run, leaving the last quarter to recover at s_f);</item>
/// <item><c>every</c>: Δt in optimizer steps (default: a quarter of an epoch);</item>
/// <item><c>scope</c>: <c>layer</c> (every layer reaches s_t, the default, as Zhu &amp; Gupta) or <c>global</c>;</item>
/// <item><c>layers</c>: a regular expression the layers' full names must match (no commas; default all Conv2d/Linear).</item>
/// </list>
/// </summary>
public sealed record AgpSpec(double Final, double Initial = 0, double StartEpoch = 0, double? EndEpoch = null,
    long? Every = null, bool Global = false, string? Layers = null)
{
    public const string Form = "final=S[,initial=S][,start=EPOCH][,end=EPOCH][,every=STEPS][,scope=layer|global][,layers=REGEX]";

    public static AgpSpec Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var inv = CultureInfo.InvariantCulture;
        double? final = null; double initial = 0, start = 0; double? end = null; long? every = null; bool global = false; string? layers = null;
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0) throw new ArgumentException($"'{part}' is not key=value; expected {Form}");
            string key = part[..eq].Trim().ToLowerInvariant(), value = part[(eq + 1)..].Trim();
            double Num() => double.TryParse(value, NumberStyles.Float, inv, out double v) && double.IsFinite(v) ? v
                : throw new ArgumentException($"agp {key} must be a number, got '{value}'");
            switch (key)
            {
                case "final": final = Num(); break;
                case "initial": initial = Num(); break;
                case "start": start = Num(); break;
                case "end": end = Num(); break;
                case "every":
                    every = long.TryParse(value, NumberStyles.None, inv, out long e) && e >= 1 ? e
                        : throw new ArgumentException($"agp every must be a whole number of steps >= 1, got '{value}'");
                    break;
                case "scope":
                    global = value.ToLowerInvariant() switch
                    {
                        "global" => true, "layer" => false,
                        _ => throw new ArgumentException($"agp scope must be layer or global, got '{value}'"),
                    };
                    break;
                case "layers":
                    try { _ = new Regex(value); }
                    catch (ArgumentException ex) { throw new ArgumentException($"agp layers '{value}' is not a valid regular expression: {ex.Message}"); }
                    layers = value;
                    break;
                default: throw new ArgumentException($"unknown agp key '{key}'; expected {Form}");
            }
        }
        if (final is null) throw new ArgumentException($"agp needs final=S (the final sparsity); expected {Form}");
        if (start < 0) throw new ArgumentException($"agp start must be >= 0 epochs, got {start.ToString(inv)}");
        var spec = new AgpSpec(final.Value, initial, start, end, every, global, layers);
        spec.ToSchedule(1, int.MaxValue / 2); // range checks of the sparsities
        return spec;
    }

    /// <summary>The schedule in optimizer steps for a run of <paramref name="epochs"/> epochs of <paramref name="batchesPerEpoch"/> steps.</summary>
    public AgpSchedule ToSchedule(int batchesPerEpoch, int epochs)
    {
        double end = EndEpoch ?? Math.Max(StartEpoch, Math.Round(0.75 * epochs));
        if (end < StartEpoch) throw new ArgumentException($"agp end (epoch {end.ToString(CultureInfo.InvariantCulture)}) comes before start (epoch {StartEpoch.ToString(CultureInfo.InvariantCulture)})");
        long startStep = (long)Math.Round(StartEpoch * batchesPerEpoch), endStep = (long)Math.Round(end * batchesPerEpoch);
        return new AgpSchedule(Initial, Final, startStep, endStep, Every ?? Math.Max(1, batchesPerEpoch / 4));
    }

    /// <summary>Whether a layer's full name is selected by <see cref="Layers"/>.</summary>
    public bool Selects(string layer) => Layers is null || Regex.IsMatch(layer, $"^(?:{Layers})$", RegexOptions.CultureInvariant);
}
