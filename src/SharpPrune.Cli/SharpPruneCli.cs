using System.CommandLine;
using System.CommandLine.Invocation;
using SharpPrune.Cli.Commands;
using SharpPrune.Kernels;

namespace SharpPrune.Cli;

/// <summary>
/// The <c>sharpprune</c> command line. <see cref="Run(string[], TextWriter, TextWriter)"/> is the whole program
/// (Program.cs only forwards to it), so tests run it in-process with captured writers.
/// Exit codes: 0 success, 1 the command failed (missing file, bad checkpoint…), 2 bad usage (unknown option,
/// value out of range).
/// </summary>
public static class SharpPruneCli
{
    public const int ExitFailure = 1, ExitUsage = 2;

    public static int Run(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var ctx = new CliContext(stdout, stderr);
        var root = BuildRoot(ctx);
        ParseResult parse;
        try
        {
            parse = root.Parse(args);
        }
        catch (Exception e)
        {
            stderr.WriteLine($"sharpprune: error: {ErrorMessages.OneLine(e)}");
            return ExitUsage;
        }
        if (parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors) stderr.WriteLine($"sharpprune: error: {error.Message}");
            string path = string.Join(" ", CommandPath(parse.CommandResult.Command));
            stderr.WriteLine($"Run '{path} --help' for usage.");
            return ExitUsage;
        }
        return parse.Invoke(new InvocationConfiguration
        {
            Output = stdout,
            Error = stderr,
            EnableDefaultExceptionHandler = false,
            // Training must not be cancelled half-way through a write; checkpoints are atomic, so the default
            // process termination on Ctrl+C is safe and --resume continues from the last finished epoch.
            ProcessTerminationTimeout = null,
        });
    }

    internal static RootCommand BuildRoot(CliContext ctx)
    {
        var root = new RootCommand("SharpPrune: train, prune and evaluate neural networks on the CPU (.NET).");
        root.Options.Add(ctx.Verbose);
        ctx.Threads.Recursive = true;
        root.Options.Add(ctx.Threads);
        root.Options.Add(ctx.NoProgress);
        root.Subcommands.Add(TrainCommand.Create(ctx));
        root.Subcommands.Add(EvalCommand.Create(ctx));
        root.Subcommands.Add(SummaryCommand.Create(ctx));
        root.Subcommands.Add(PruneCommand.Create(ctx));
        root.Subcommands.Add(ShrinkCommand.Create(ctx));
        root.Subcommands.Add(ReportCommand.Create(ctx));
        root.Subcommands.Add(QuantizeCommand.Create(ctx));
        root.Subcommands.Add(CompressCommand.Create(ctx));
        root.Subcommands.Add(ExportCommand.Create(ctx));
        root.Subcommands.Add(DemoCommand.Create(ctx));
        root.Subcommands.Add(RunCommand.Create(ctx));
        root.Subcommands.Add(SensitivityCommand.Create(ctx));
        return root;
    }

    /// <summary>Sets <paramref name="body"/> as the command's action: every exception becomes one line on stderr.</summary>
    internal static void SetHandler(Command command, CliContext ctx, Func<ParseResult, int> body)
    {
        command.SetAction(parse =>
        {
            try
            {
                if (parse.GetValue(ctx.Threads) is int threads) Parallelism.MaxThreads = threads;
                ctx.NoProgressGiven = parse.GetValue(ctx.NoProgress);
                return body(parse);
            }
            catch (Exception e)
            {
                ctx.Err.WriteLine($"sharpprune {command.Name}: error: {ErrorMessages.OneLine(e)}");
                if (parse.GetValue(ctx.Verbose)) ctx.Err.WriteLine(e);
                return e is CliUsageException ? ExitUsage : ExitFailure;
            }
        });
    }

    private static IEnumerable<string> CommandPath(Command command)
    {
        var names = new List<string>();
        for (Symbol? s = command; s is Command c; s = s.Parents.FirstOrDefault())
            names.Insert(0, c is RootCommand ? "sharpprune" : c.Name);
        return names;
    }
}
