using SharpPrune.NN;

namespace SharpPrune.Cli;

/// <summary>Turns an exception into the one line the user sees.</summary>
internal static partial class ErrorMessages
{
    /// <summary>Longest error line printed; the readers shorten names and lists themselves, this is the backstop.</summary>
    public const int MaxLine = 2000;

    public static string OneLine(Exception e)
    {
        // Wrappers add nothing the user can act on.
        while (e is AggregateException { InnerExceptions.Count: 1 } || e is System.Reflection.TargetInvocationException)
            e = e.InnerException!;
        string msg = e switch
        {
            CliException or FileNotFoundException or DirectoryNotFoundException or InvalidDataException
                or ArgumentException or KeyNotFoundException or StateDictException or IOException
                or UnauthorizedAccessException or FormatException or InvalidOperationException => e.Message,
            _ => $"internal error ({e.GetType().Name}): {e.Message}",
        };
        if (e is ArgumentException) msg = ParamSuffix().Replace(msg, "");
        // Some messages (state dict errors) span lines; keep them on one, and of a size a terminal can show.
        string line = string.Join("; ", msg.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        return line.Length <= MaxLine ? line : $"{line[..MaxLine]}… ({line.Length:N0} characters)";
    }

    /// <summary>
    /// A parser error without .NET type names: "Cannot parse argument 'abc' for option '--threads' as expected type
    /// 'System.Nullable`1[System.Int32]'" becomes "--threads: 'abc' is not an integer".
    /// </summary>
    public static string ParseError(string message)
    {
        var m = CannotParse().Match(message);
        if (m.Success) return $"{m.Groups["option"].Value}: '{MessageText.Name(m.Groups["value"].Value)}' is not {Kind(m.Groups["type"].Value)}";
        return TypeName().Replace(message, t => Kind(t.Groups["type"].Value));
    }

    private static string Kind(string dotnetType) => dotnetType switch
    {
        _ when dotnetType.Contains("Int") => "an integer",
        _ when dotnetType.Contains("Double") || dotnetType.Contains("Single") || dotnetType.Contains("Decimal") => "a number",
        _ when dotnetType.Contains("Boolean") => "true or false",
        _ => "a valid value",
    };

    [System.Text.RegularExpressions.GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for (?:option|argument) '(?<option>[^']*)' as expected type '(?<type>[^']*)'\.?$", System.Text.RegularExpressions.RegexOptions.Singleline)]
    private static partial System.Text.RegularExpressions.Regex CannotParse();

    [System.Text.RegularExpressions.GeneratedRegex(@"type '(?<type>System\.[^']*)'")]
    private static partial System.Text.RegularExpressions.Regex TypeName();

    // .NET appends " (Parameter 'name')" to argument exceptions: noise on a command line.
    [System.Text.RegularExpressions.GeneratedRegex(@"\s*\(Parameter '[^']*'\)")]
    private static partial System.Text.RegularExpressions.Regex ParamSuffix();
}
