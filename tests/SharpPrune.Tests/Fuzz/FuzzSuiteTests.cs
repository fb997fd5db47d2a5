using SharpPrune.Fuzz;

namespace SharpPrune.Tests.Fuzz;

/// <summary>
/// A bounded mutation-fuzz run of every reader (tests/SharpPrune.Fuzz; its console entry point runs 10,000+ cases
/// per reader on demand): no case may crash, hang or over-allocate, and the unmutated seeds must be accepted.
/// </summary>
public class FuzzSuiteTests
{
    public static TheoryData<string, int> Targets()
    {
        var d = new TheoryData<string, int>();
        // In-memory readers are cheap; the others write files (and the checkpoint target runs `sharpprune report`).
        foreach (var t in FuzzTargets.All) d.Add(t.Name, t.Name == "safetensors" ? 500 : 200);
        return d;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void MutatedInputsEndInACleanErrorOrAreAccepted(string target, int cases)
    {
        var report = FuzzRunner.Run(FuzzTargets.Get(target), cases, seed: 13, TimeSpan.FromSeconds(30), allocationBudget: 64L << 20);
        Assert.True(report.AllClean && report.Findings.Count == 0,
            $"{target}: " + string.Join("; ", report.Findings.Select(f => $"case {f.Case} {f.Outcome}: {f.Detail}")));
        Assert.True(report.Counts[Outcome.CleanError] > cases / 4, $"{target}: only {report.Counts[Outcome.CleanError]} of {cases} mutations were refused: the mutator is not reaching the checks");
        Assert.True(report.Counts[Outcome.AcceptedValid] >= FuzzTargets.Get(target).Seeds().Count);
    }

    [Fact]
    public void TheHarnessTellsCrashesHangsAndOverAllocationApart()
    {
        // A deliberately broken reader of each kind: the harness must classify rather than pass them.
        byte[] seed = [1, 2, 3, 4, 5, 6, 7, 8];
        Outcome? Crashes(byte[] b, string _) => b.AsSpan().SequenceEqual(seed) ? null : throw new IndexOutOfRangeException("boom");
        var crash = FuzzRunner.Run(new FuzzTarget("crashes", () => [seed], Crashes), 50, 1, TimeSpan.FromSeconds(10), 1 << 20);
        Assert.True(crash.Counts[Outcome.Crash] > 0);

        Outcome? Allocates(byte[] b, string _) { GC.KeepAlive(new byte[b.AsSpan().SequenceEqual(seed) ? 10 : 8 << 20]); return null; }
        var alloc = FuzzRunner.Run(new FuzzTarget("allocates", () => [seed], Allocates), 20, 1, TimeSpan.FromSeconds(10), 1 << 20);
        Assert.True(alloc.Counts[Outcome.OverAllocation] > 0);

        Outcome? Hangs(byte[] b, string _) { if (!(b.AsSpan().SequenceEqual(seed))) Thread.Sleep(3000); return null; }
        var hang = FuzzRunner.Run(new FuzzTarget("hangs", () => [seed], Hangs), 3, 1, TimeSpan.FromMilliseconds(200), 1 << 20);
        Assert.True(hang.Counts[Outcome.Hang] >= 1 && hang.Counts[Outcome.AcceptedValid] >= 1);
    }
}
