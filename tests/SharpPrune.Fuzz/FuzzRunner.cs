using System.Diagnostics;

namespace SharpPrune.Fuzz;

/// <summary>A reader reported a failure that is not a clean refusal (e.g. the CLI's "internal error").</summary>
public sealed class ReaderCrashed(string message) : Exception(message);

/// <summary>One case that did not end cleanly, kept for the report (and, from the console, written to disk).</summary>
public sealed record FuzzFinding(string Target, int Case, Outcome Outcome, string Detail, byte[] Input);

/// <summary>The outcome counts of one target's run.</summary>
public sealed class FuzzReport(string target)
{
    public string Target { get; } = target;
    public Dictionary<Outcome, int> Counts { get; } = Enum.GetValues<Outcome>().ToDictionary(o => o, _ => 0);
    public List<FuzzFinding> Findings { get; } = new();
    public int Cases => Counts.Values.Sum();
    public long MaxAllocatedBytes { get; set; }
    public double Seconds { get; set; }
    public bool AllClean => Counts[Outcome.Crash] + Counts[Outcome.Hang] + Counts[Outcome.OverAllocation] == 0;
}

/// <summary>
/// Runs mutated inputs through a <see cref="FuzzTarget"/> and classifies each. A case runs on its own thread so a
/// hang is detected (the thread is then abandoned) and its allocations are measured alone
/// (<see cref="GC.GetAllocatedBytesForCurrentThread"/>): more than the budget counts as over-allocation even when
/// the read ends well. The first cases are the unmutated seeds, which must be accepted.
/// </summary>
public static class FuzzRunner
{
    /// <summary>Longest error message that still counts as clean (the CLI caps its lines at 2,000 characters).</summary>
    public const int MaxMessage = 2100;

    public static FuzzReport Run(FuzzTarget target, int cases, int seed, TimeSpan timeout, long allocationBudget, int keepFindings = 20)
    {
        var report = new FuzzReport(target.Name);
        var seeds = target.Seeds();
        if (seeds.Count == 0) throw new InvalidOperationException($"fuzz target {target.Name} has no seeds");
        var mutator = new Mutator(seed);
        string root = Path.Combine(Path.GetTempPath(), "sharpprune-fuzz", Guid.NewGuid().ToString("N"));
        var clock = Stopwatch.StartNew();
        int scratchNumber = 0;
        try
        {
            for (int i = 0; i < cases; i++)
            {
                var baseInput = seeds[i % seeds.Count];
                var input = i < seeds.Count ? baseInput : target.MutateSeed(mutator, baseInput);
                // One scratch folder while cases end; a hung case may still hold its files, so the next gets a new one.
                string scratch = Path.Combine(root, scratchNumber.ToString());
                Directory.CreateDirectory(scratch);
                var (outcome, detail, allocated) = RunOne(target, input, scratch, timeout);
                if (outcome == Outcome.Hang) scratchNumber++;
                if (outcome is Outcome.CleanError or Outcome.AcceptedValid && allocated > allocationBudget + 16L * input.Length)
                {
                    outcome = Outcome.OverAllocation;
                    detail = $"allocated {allocated:N0} bytes for a {input.Length:N0}-byte input";
                }
                if (i < seeds.Count && outcome != Outcome.AcceptedValid)
                    detail = $"seed {i} was not accepted: {detail}";
                report.Counts[outcome]++;
                report.MaxAllocatedBytes = Math.Max(report.MaxAllocatedBytes, allocated);
                if ((outcome is not (Outcome.CleanError or Outcome.AcceptedValid) || (i < seeds.Count && outcome != Outcome.AcceptedValid))
                    && report.Findings.Count < keepFindings)
                    report.Findings.Add(new FuzzFinding(target.Name, i, outcome, detail, input));
            }
        }
        finally
        {
            TryDelete(root);
        }
        report.Seconds = clock.Elapsed.TotalSeconds;
        return report;
    }

    private static (Outcome, string, long) RunOne(FuzzTarget target, byte[] input, string scratch, TimeSpan timeout)
    {
        var task = Task.Factory.StartNew(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            try
            {
                var o = target.Read(input, scratch) ?? Outcome.AcceptedValid;
                return (o, "", GC.GetAllocatedBytesForCurrentThread() - before);
            }
            catch (OutOfMemoryException e)
            {
                return (Outcome.OverAllocation, $"{e.GetType().Name}: {Short(e.Message)}", GC.GetAllocatedBytesForCurrentThread() - before);
            }
            catch (Exception e)
            {
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                bool clean = FuzzTarget.IsCleanType(e) && e.Message.Length <= MaxMessage && !e.Message.Contains("internal error", StringComparison.Ordinal);
                return (clean ? Outcome.CleanError : Outcome.Crash, $"{e.GetType().Name}: {Short(e.Message)}", allocated);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return task.Wait(timeout) ? task.Result : (Outcome.Hang, $"no result after {timeout.TotalSeconds:F0} s", 0L);
    }

    private static string Short(string s) => s.Length <= 300 ? s : s[..300] + $"… ({s.Length:N0} characters)";

    private static void TryDelete(string dir)
    {
        try { if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true); }
        catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
