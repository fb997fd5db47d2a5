using SharpPrune.NN;

namespace SharpPrune.Cli;

/// <summary>Turns an exception into the one line the user sees.</summary>
internal static partial class ErrorMessages
{
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
        // Some messages (state dict errors) span lines; keep them on one.
        return string.Join("; ", msg.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
    }

    // .NET appends " (Parameter 'name')" to argument exceptions: noise on a command line.
    [System.Text.RegularExpressions.GeneratedRegex(@"\s*\(Parameter '[^']*'\)")]
    private static partial System.Text.RegularExpressions.Regex ParamSuffix();
}
