namespace SharpPrune.Kernels;

/// <summary>
/// Thin wrapper over <see cref="Parallel.For(int,int,ParallelOptions,Action{int})"/> with a global thread cap.
/// Nested calls (a kernel invoked from inside another kernel's parallel body) run serially so that
/// e.g. per-image conv workers calling Sgemm do not oversubscribe the cores.
/// </summary>
public static class Parallelism
{
    private static int s_maxThreads = Math.Max(1, Environment.ProcessorCount);
    private static ParallelOptions s_options = new() { MaxDegreeOfParallelism = s_maxThreads };

    [ThreadStatic] private static int t_depth;

    /// <summary>Upper bound on worker threads used by kernels (default: processor count, must be ≥ 1).</summary>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            s_maxThreads = value;
            s_options = new ParallelOptions { MaxDegreeOfParallelism = value };
        }
    }

    /// <summary>True while the current thread executes the body of a parallel <see cref="For"/>.</summary>
    public static bool InParallelRegion => t_depth > 0;

    /// <summary>Threads a kernel may use right now: 1 inside a parallel body, else <see cref="MaxThreads"/>.</summary>
    public static int AvailableThreads => t_depth > 0 ? 1 : s_maxThreads;

    public static void For(int fromInclusive, int toExclusive, Action<int> body)
    {
        int count = toExclusive - fromInclusive;
        if (count <= 0) return;
        if (count == 1 || s_maxThreads == 1 || t_depth > 0)
        {
            for (int i = fromInclusive; i < toExclusive; i++) body(i);
            return;
        }
        var switches = KernelSwitches.Current; // the caller's forced paths hold in its workers too
        Parallel.For(fromInclusive, toExclusive, s_options, i =>
        {
            var own = KernelSwitches.Current;
            KernelSwitches.Current = switches;
            t_depth++;
            try { body(i); }
            finally { t_depth--; KernelSwitches.Current = own; }
        });
    }

    /// <summary>
    /// Splits [0, count) into at most <paramref name="parts"/> contiguous ranges of near-equal size and runs
    /// <c>body(partIndex, start, end)</c> for each in parallel. Returns the number of parts actually used.
    /// </summary>
    public static int ForRanges(int count, int parts, Action<int, int, int> body)
    {
        if (count <= 0) return 0;
        parts = Math.Clamp(parts, 1, count);
        if (parts == 1) { body(0, 0, count); return 1; }
        For(0, parts, p =>
        {
            long start = (long)count * p / parts, end = (long)count * (p + 1) / parts;
            body(p, (int)start, (int)end);
        });
        return parts;
    }
}
