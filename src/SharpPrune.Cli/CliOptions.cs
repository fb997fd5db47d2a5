using System.CommandLine;
using System.Globalization;

namespace SharpPrune.Cli;

/// <summary>Option factories whose validators name the option, the valid range and the value given.</summary>
internal static class CliOptions
{
    public static Option<int> Int(string name, string description, int? defaultValue, int min, int max = int.MaxValue, bool hidden = false)
    {
        var o = new Option<int>(name) { Description = description, Hidden = hidden };
        if (defaultValue is int d) o.DefaultValueFactory = _ => d;
        o.Validators.Add(r =>
        {
            int v = r.GetValueOrDefault<int>();
            if (v < min || v > max) r.AddError($"{name} must be {Range(min, max)}, got {v}");
        });
        return o;
    }

    /// <summary>An optional positive count (null when not given).</summary>
    public static Option<int?> OptionalInt(string name, string description, int min, int max = int.MaxValue, bool hidden = false)
    {
        var o = new Option<int?>(name) { Description = description, Hidden = hidden };
        o.Validators.Add(r =>
        {
            int? v = r.GetValueOrDefault<int?>();
            if (v is int x && (x < min || x > max)) r.AddError($"{name} must be {Range(min, max)}, got {x}");
        });
        return o;
    }

    public static Option<double> Double(string name, string description, double defaultValue, double min, double max,
        bool minExclusive = false, bool maxExclusive = false)
    {
        var o = new Option<double>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        o.Validators.Add(r =>
        {
            double v = r.GetValueOrDefault<double>();
            bool below = minExclusive ? v <= min : v < min;
            bool above = maxExclusive ? v >= max : v > max;
            if (double.IsNaN(v) || below || above)
            {
                string lo = (minExclusive ? "(" : "[") + F(min), hi = F(max) + (maxExclusive ? ")" : "]");
                r.AddError($"{name} must be in {lo}, {hi}, got {F(v)}");
            }
        });
        return o;
    }

    public static Option<string> String(string name, string description, string? defaultValue = null, bool required = false)
    {
        var o = new Option<string>(name) { Description = description, Required = required };
        if (defaultValue is not null) o.DefaultValueFactory = _ => defaultValue;
        return o;
    }

    /// <summary>A string option restricted to <paramref name="choices"/> (case-insensitive).</summary>
    public static Option<string> Choice(string name, string description, string defaultValue, params string[] choices)
    {
        var o = new Option<string>(name) { Description = $"{description} ({string.Join("|", choices)})", DefaultValueFactory = _ => defaultValue };
        o.Validators.Add(r =>
        {
            string? v = r.GetValueOrDefault<string>();
            if (v is null || !choices.Contains(v, StringComparer.OrdinalIgnoreCase))
                r.AddError($"{name} must be one of {string.Join(", ", choices)}, got '{v}'");
        });
        return o;
    }

    public static Option<bool> Flag(string name, string description, bool hidden = false) =>
        new(name) { Description = description, Hidden = hidden };

    private static string Range(int min, int max) =>
        max == int.MaxValue ? $">= {min}" : $"between {min} and {max}";

    private static string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}
