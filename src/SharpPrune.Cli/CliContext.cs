using System.CommandLine;

namespace SharpPrune.Cli;

/// <summary>Where a command writes: results to <see cref="Out"/>, progress and errors to <see cref="Err"/>.</summary>
public sealed class CliContext(TextWriter @out, TextWriter err)
{
    public TextWriter Out { get; } = @out;
    public TextWriter Err { get; } = err;

    /// <summary>--verbose, on every command: stack traces with errors.</summary>
    internal Option<bool> Verbose { get; } = new("--verbose") { Description = "Print stack traces with errors", Recursive = true };

    /// <summary>--threads, on every command: the kernels' thread cap (default: all cores).</summary>
    internal Option<int?> Threads { get; } = CliOptions.OptionalInt("--threads", "Worker threads for the kernels [default: all cores]", 1, 1024);

    /// <summary>--no-progress, on every command: plain lines only, no progress bars or redrawn status line.</summary>
    internal Option<bool> NoProgress { get; } = new("--no-progress") { Description = "Plain line output: no progress bars or status line", Recursive = true };

    /// <summary>Whether the command line had --no-progress (set when a command starts).</summary>
    internal bool NoProgressGiven { get; set; }

    /// <summary>
    /// True when both <see cref="Out"/> and <see cref="Err"/> are the real console on a terminal: only then are
    /// progress bars drawn (Spectre.Console). Logs, pipes and tests get plain lines.
    /// </summary>
    public bool IsInteractive => ReferenceEquals(Out, Console.Out) && !Console.IsOutputRedirected && ErrIsTerminal;

    /// <summary>
    /// True when <see cref="Err"/> is the real console and a terminal: only then is a refreshed status line drawn
    /// with carriage returns. Redirected output (CI logs, tests) gets plain lines and no escape codes.
    /// </summary>
    public bool ErrIsTerminal => ReferenceEquals(Err, Console.Error) && !Console.IsErrorRedirected;
}
