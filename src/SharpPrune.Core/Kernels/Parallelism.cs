namespace SharpPrune.Kernels;

/// <summary>
/// Fork-join over the thread pool with a global thread cap (<see cref="For"/>).
/// Nested calls (a kernel invoked from inside another kernel's parallel body) run serially so that
/// e.g. per-image conv workers calling Sgemm do not oversubscribe the cores.
/// </summary>
public static class Parallelism
{
    private static int s_maxThreads = Math.Max(1, Environment.ProcessorCount);

    [ThreadStatic] private static int t_depth;

    /// <summary>Upper bound on worker threads used by kernels (default: processor count, must be ≥ 1).</summary>
    public static int MaxThreads
    {
        get => s_maxThreads;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1);
            s_maxThreads = value;
        }
    }

    /// <summary>True while the current thread executes the body of a parallel <see cref="For"/>.</summary>
    public static bool InParallelRegion => t_depth > 0;

    /// <summary>Threads a kernel may use right now: 1 inside a parallel body, else <see cref="MaxThreads"/>.</summary>
    public static int AvailableThreads => t_depth > 0 ? 1 : s_maxThreads;

    /// <summary>
    /// Runs <c>body(i)</c> for i in [from, to) on up to <see cref="MaxThreads"/> threads: the caller and helper
    /// threads claim indices one at a time from a shared counter, and the caller waits only for indices already
    /// claimed, never for a helper that has not started (<see cref="Parallel.For(int,int,ParallelOptions,Action{int})"/>
    /// waits for its queued helper task even when the caller ran every index itself). The helpers are
    /// <see cref="Pool"/>'s own threads, which spin briefly between loops so the next one finds them awake; a
    /// second caller while they are busy gets thread-pool helpers. Exceptions are collected and rethrown as an
    /// <see cref="AggregateException"/>; after one, unclaimed indices are skipped.
    /// </summary>
    public static void For(int fromInclusive, int toExclusive, Action<int> body)
    {
        int count = toExclusive - fromInclusive;
        if (count <= 0) return;
        if (count == 1 || s_maxThreads == 1 || t_depth > 0)
        {
            for (int i = fromInclusive; i < toExclusive; i++) body(i);
            return;
        }
        var job = new ForJob(fromInclusive, count, body, KernelSwitches.Current);
        int helpers = Math.Min(s_maxThreads, count) - 1;
        if (!Pool.TryRun(job, helpers))
        {
            for (int h = 0; h < helpers; h++) ThreadPool.UnsafeQueueUserWorkItem(job, preferLocal: false);
            job.Execute();
            job.Wait();
        }
        if (job.Errors != null) throw new AggregateException(job.Errors);
    }

    /// <summary>
    /// Helper threads for <see cref="For"/>, one fewer than the largest thread count asked for. A ResNet-56 train
    /// step is ~450 parallel loops of ~0.1–2 ms; a thread-pool helper goes to sleep between them and every loop
    /// then starts with a wake-up (a futex wake, and on a busy machine a wait for a time slice) while the caller
    /// already runs alone. These threads spin for <see cref="SpinTicks"/> after each loop (the gap to the next
    /// one is usually shorter), then block. One caller at a time owns them.
    /// </summary>
    private static class Pool
    {
        /// <summary>How long a helper spins for the next loop before it blocks: 0.25 ms.</summary>
        private static readonly long SpinTicks = System.Diagnostics.Stopwatch.Frequency / 4000;

        private static readonly object s_gate = new();
        private static readonly List<Thread> s_threads = [];
        private static ForJob? s_job;
        private static int s_generation, s_sleepers, s_owned;

        /// <summary>Runs <paramref name="job"/> with <paramref name="helpers"/> pool threads; false when another caller owns the pool.</summary>
        public static bool TryRun(ForJob job, int helpers)
        {
            if (Interlocked.CompareExchange(ref s_owned, 1, 0) != 0) return false;
            try
            {
                while (s_threads.Count < helpers)
                {
                    // A new thread starts from the current generation, so it picks up the job posted below.
                    var t = new Thread(Work) { IsBackground = true, Name = $"SharpPrune worker {s_threads.Count + 1}" };
                    t.Start((s_threads.Count, Volatile.Read(ref s_generation)));
                    s_threads.Add(t);
                }
                job.Helpers = helpers;
                Volatile.Write(ref s_job, job);
                Interlocked.Increment(ref s_generation);
                if (Volatile.Read(ref s_sleepers) > 0) lock (s_gate) Monitor.PulseAll(s_gate);
                job.Execute();
                job.Wait();
                Volatile.Write(ref s_job, null);
            }
            finally { Volatile.Write(ref s_owned, 0); }
            return true;
        }

        private static void Work(object? state)
        {
            var (id, seen) = ((int, int))state!;
            while (true)
            {
                seen = NextGeneration(seen);
                // The job read here may already be a later one than the generation seen: running it is right (it is
                // the current one); a finished job hands out no more indices.
                var job = Volatile.Read(ref s_job);
                if (job != null && id < job.Helpers) job.Execute();
            }
        }

        /// <summary>Waits for a generation other than <paramref name="seen"/>: spins up to <see cref="SpinTicks"/>, then blocks.</summary>
        private static int NextGeneration(int seen)
        {
            long start = System.Diagnostics.Stopwatch.GetTimestamp();
            int g;
            while ((g = Volatile.Read(ref s_generation)) == seen)
            {
                if (System.Diagnostics.Stopwatch.GetTimestamp() - start < SpinTicks) { Thread.SpinWait(20); continue; }
                lock (s_gate)
                {
                    // Counted before the generation is re-read (both interlocked/volatile), so a poster that
                    // missed this sleeper made its increment visible to the loop below.
                    Interlocked.Increment(ref s_sleepers);
                    while ((g = Volatile.Read(ref s_generation)) == seen) Monitor.Wait(s_gate);
                    Interlocked.Decrement(ref s_sleepers);
                }
                return g;
            }
            return g;
        }
    }

    /// <summary>One parallel loop: indices claimed through <see cref="_next"/>, completions counted down in <see cref="_pending"/>.</summary>
    private sealed class ForJob(int from, int count, Action<int> body, KernelSwitches switches) : IThreadPoolWorkItem
    {
        private int _next, _pending = count;
        private volatile bool _failed;
        /// <summary>How many pool helpers may join (pool threads with a higher id leave it alone).</summary>
        public int Helpers;
        public System.Collections.Concurrent.ConcurrentQueue<Exception>? Errors;

        /// <summary>Claims and runs indices until none are left (a helper that starts late finds none and leaves).</summary>
        public void Execute()
        {
            var own = KernelSwitches.Current;
            KernelSwitches.Current = switches; // the caller's forced paths hold in its helpers too
            t_depth++;
            try
            {
                int i;
                while ((i = Interlocked.Increment(ref _next) - 1) < count)
                {
                    try { if (!_failed) body(from + i); }
                    catch (Exception e)
                    {
                        LazyInitializer.EnsureInitialized(ref Errors).Enqueue(e);
                        _failed = true;
                    }
                    if (Interlocked.Decrement(ref _pending) == 0) lock (this) Monitor.PulseAll(this);
                }
            }
            finally { t_depth--; KernelSwitches.Current = own; }
        }

        /// <summary>
        /// Returns once every claimed index has run: spins, then yields (on a busy machine that lets the helper
        /// in, as Task.Wait's spin phase does), then blocks.
        /// </summary>
        public void Wait()
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) != 0)
            {
                if (spin.Count < 64) { spin.SpinOnce(sleep1Threshold: -1); continue; }
                lock (this) { while (Volatile.Read(ref _pending) != 0) Monitor.Wait(this); }
            }
        }
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
