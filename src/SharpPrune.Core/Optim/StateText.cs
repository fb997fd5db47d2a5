using System.Globalization;

namespace SharpPrune.Optim;

/// <summary>
/// The text form of optimizer hyper-parameters and scheduler state (checkpoint metadata): one format that
/// round-trips every bit, one parser with one error message ("<c>what</c> 'key': cannot parse 'value'").
/// </summary>
public static class StateText
{
    /// <summary>Round-trip text for a double ("R" keeps every bit).</summary>
    public static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);
    public static string Format(int v) => v.ToString(CultureInfo.InvariantCulture);
    public static string Format(bool v) => v ? "true" : "false";

    public static double ParseDouble(string what, string key, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) ? d : throw Bad(what, key, value);

    public static int ParseInt(string what, string key, string value, NumberStyles styles = NumberStyles.AllowLeadingSign) =>
        int.TryParse(value, styles, CultureInfo.InvariantCulture, out var i) ? i : throw Bad(what, key, value);

    public static bool ParseBool(string what, string key, string value) => value switch
    {
        "true" or "True" => true,
        "false" or "False" => false,
        _ => throw Bad(what, key, value),
    };

    private static FormatException Bad(string what, string key, string value) => new($"{what} '{key}': cannot parse '{value}'");
}
