using System.CommandLine;
using System.CommandLine.Parsing;
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
            if (!TryValue(r, out int v)) return;
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
            if (!TryValue(r, out int? v)) return;
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
            if (!TryValue(r, out double v)) return;
            if (OutOfRange(v, min, max, minExclusive, maxExclusive))
                r.AddError(RangeError(name, v, min, max, minExclusive, maxExclusive));
        });
        return o;
    }

    /// <summary>A double that may be left out (null), so its default can depend on other options.</summary>
    public static Option<double?> OptionalDouble(string name, string description, double min, double max,
        bool minExclusive = false, bool maxExclusive = false)
    {
        var o = new Option<double?>(name) { Description = description };
        o.Validators.Add(r =>
        {
            if (TryValue(r, out double? value) && value is double v && OutOfRange(v, min, max, minExclusive, maxExclusive))
                r.AddError(RangeError(name, v, min, max, minExclusive, maxExclusive));
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

    /// <summary>The option's value, or false when it did not convert (the parser reports that error itself).</summary>
    private static bool TryValue<T>(OptionResult r, out T value)
    {
        try { value = r.GetValueOrDefault<T>(); return true; }
        catch (InvalidOperationException) { value = default!; return false; }
    }

    private static bool OutOfRange(double v, double min, double max, bool minExclusive, bool maxExclusive) =>
        double.IsNaN(v) || (minExclusive ? v <= min : v < min) || (maxExclusive ? v >= max : v > max);

    private static string RangeError(string name, double v, double min, double max, bool minExclusive, bool maxExclusive)
    {
        string lo = (minExclusive ? "(" : "[") + F(min), hi = F(max) + (maxExclusive ? ")" : "]");
        return $"{name} must be in {lo}, {hi}, got {F(v)}";
    }

    /// <summary>Whether the user typed the option (as opposed to its default applying).</summary>
    public static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static string Range(int min, int max) =>
        max == int.MaxValue ? $">= {min}" : $"between {min} and {max}";

    private static string F(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}
