using System.Collections.Concurrent;
using SharpPrune.Kernels;
using static SharpPrune.Tests.Kernels.KernelTestUtil;

namespace SharpPrune.Tests.Kernels;

[Collection("Kernels")]
public class ParallelismTests
{
    [Fact]
    public void ForVisitsEveryIndexOnce()
    {
        WithThreads(2, () =>
        {
            var hits = new int[1000];
            Parallelism.For(0, 1000, i => Interlocked.Increment(ref hits[i]));
            Assert.All(hits, h => Assert.Equal(1, h));
            Parallelism.For(5, 5, _ => throw new InvalidOperationException()); // empty range: no call
        });
    }

    [Fact]
    public void SingleThreadRunsInline()
    {
        WithThreads(1, () =>
        {
            int caller = Environment.CurrentManagedThreadId;
            var threads = new ConcurrentBag<int>();
            Parallelism.For(0, 50, _ => threads.Add(Environment.CurrentManagedThreadId));
            Assert.All(threads, t => Assert.Equal(caller, t));
        });
    }

    [Fact]
    public void NestedCallsRunSeriallyInsideWorker()
    {
        WithThreads(2, () =>
        {
            Assert.False(Parallelism.InParallelRegion);
            var bad = 0;
            Parallelism.For(0, 4, _ =>
            {
                if (!Parallelism.InParallelRegion || Parallelism.AvailableThreads != 1) Interlocked.Increment(ref bad);
                int outer = Environment.CurrentManagedThreadId;
                Parallelism.For(0, 8, __ => { if (Environment.CurrentManagedThreadId != outer) Interlocked.Increment(ref bad); });
            });
            Assert.Equal(0, bad);
            Assert.False(Parallelism.InParallelRegion);
        });
    }

    [Fact]
    public void ForRangesPartitionsContiguously()
    {
        WithThreads(3, () =>
        {
            var ranges = new ConcurrentBag<(int p, int s, int e)>();
            int used = Parallelism.ForRanges(10, 4, (p, s, e) => ranges.Add((p, s, e)));
            Assert.Equal(4, used);
            var sorted = ranges.OrderBy(r => r.p).ToArray();
            Assert.Equal(0, sorted[0].s);
            Assert.Equal(10, sorted[^1].e);
            for (int i = 1; i < sorted.Length; i++) Assert.Equal(sorted[i - 1].e, sorted[i].s);
            Assert.Equal(2, Parallelism.ForRanges(2, 8, (_, _, _) => { }));
        });
    }

    [Fact]
    public void ConcurrentCallersEachVisitEveryIndexOnce()
    {
        // One caller at a time owns the helper threads; the others get thread-pool helpers. All must complete.
        WithThreads(2, () =>
        {
            var hits = new int[4][];
            var callers = Enumerable.Range(0, 4).Select(c => new Thread(() =>
            {
                Parallelism.MaxThreads = 2; // per-process cap, already 2; each thread loops on its own array
                var h = hits[c] = new int[4000];
                for (int rep = 0; rep < 50; rep++)
                    Parallelism.For(0, h.Length / 50, i => Interlocked.Increment(ref h[rep * (h.Length / 50) + i]));
            })).ToArray();
            foreach (var t in callers) t.Start();
            foreach (var t in callers) t.Join();
            foreach (var h in hits) Assert.All(h, v => Assert.Equal(1, v));
        });
    }

    [Fact]
    public void UsesAtMostMaxThreads()
    {
        foreach (int threads in new[] { 3, 2 })
            WithThreads(threads, () =>
            {
                var seen = new ConcurrentDictionary<int, byte>();
                for (int rep = 0; rep < 20; rep++)
                    Parallelism.For(0, 64, _ => { seen.TryAdd(Environment.CurrentManagedThreadId, 0); Thread.SpinWait(2000); });
                Assert.InRange(seen.Count, 1, threads);
            });
    }

    [Fact]
    public void MaxThreadsMustBePositive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Parallelism.MaxThreads = 0);
        Assert.True(Parallelism.MaxThreads >= 1);
    }

    [Fact]
    public void ExceptionsPropagate()
    {
        WithThreads(2, () =>
        {
            var ex = Assert.Throws<AggregateException>(() => Parallelism.For(0, 10, i => { if (i == 7) throw new InvalidOperationException("x"); }));
            Assert.IsType<InvalidOperationException>(ex.InnerExceptions[0]);
        });
    }

    [Fact]
    public void KernelSwitchesHoldInTheCallersWorkersAndNowhereElse()
    {
        WithThreads(2, () =>
        {
            Gemm.ForcePortable = true;
            DirectConv.Force = false;
            try
            {
                var seen = new ConcurrentBag<(bool Portable, bool? Direct)>();
                Parallelism.For(0, 64, _ => { seen.Add((Gemm.ForcePortable, DirectConv.Force)); Thread.SpinWait(1000); });
                Assert.All(seen, s => Assert.Equal((true, (bool?)false), s));
                bool other = true;
                var t = new Thread(() => other = Gemm.MaxIsa.HasValue || DirectConv.Force.HasValue);
                t.Start(); t.Join();
                Assert.False(other, "another thread saw this thread's switches");
            }
            finally { Gemm.ForcePortable = false; DirectConv.Force = null; }
            // and a worker that ran the loop above is back to the defaults
            var after = new ConcurrentBag<bool>();
            Parallelism.For(0, 64, _ => after.Add(Gemm.MaxIsa.HasValue || DirectConv.Force.HasValue));
            Assert.DoesNotContain(true, after);
        });
    }
}
