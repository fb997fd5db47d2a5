using System.Diagnostics;
using SharpPrune.Autograd;
using SharpPrune.Kernels;
using SharpPrune.NN;
using SharpPrune.Optim;
using SharpPrune.Vision.Models;

namespace SharpPrune.Bench;

/// <summary>
/// Measures one model in this process: train steps (forward + cross-entropy + backward + SGD step) and
/// inference batches (Eval + NoGrad), with the protocol mirrored by bench/torch_bench.py.
/// </summary>
public static class ModelBench
{
    public static Dictionary<string, object> Run(string name, BenchOptions o)
    {
        Parallelism.MaxThreads = o.Threads;
        var spec = ModelSpec.All[name];
        int batch = o.Batch > 0 ? o.Batch : spec.Batch;
        var model = spec.Create(name);
        long parameters = model.Parameters().Sum(p => (long)p.Numel);

        var dataGen = new Generator(1);
        var x = Tensor.Randn(dataGen, new[] { batch }.Concat(spec.Input).ToArray());
        var targets = Enumerable.Range(0, batch).Select(_ => dataGen.NextInt(spec.Classes)).ToArray();
        var opt = new SGD(model.Parameters(), lr: 0.01, momentum: 0.9, weightDecay: 5e-4);

        var phases = new PhaseTimer("forward", "loss", "backward", "optimizer");
        void TrainStep()
        {
            phases.Start();
            opt.ZeroGrad();
            var logits = model.Forward(x);
            phases.Lap(0);
            var loss = F.CrossEntropy(logits, targets);
            phases.Lap(1);
            loss.Backward();
            phases.Lap(2);
            opt.Step();
            phases.Lap(3);
        }

        model.Train();
        Warmup(TrainStep, o);
        phases.Reset();
        var train = Timed(TrainStep, o);

        if (o.Profile) OpProfiler.ProfileTrainStep(name, model, x, targets, opt);

        model.Eval();
        void InferStep()
        {
            using var _ = GradMode.NoGrad();
            model.Forward(x);
        }
        Warmup(InferStep, o);
        var infer = Timed(InferStep, o);
        if (o.Profile) OpProfiler.ProfileInference(name, model, x);

        return new Dictionary<string, object>
        {
            ["impl"] = "sharpprune",
            ["model"] = name,
            ["batch"] = batch,
            ["threads"] = o.Threads,
            ["isa"] = KernelIsa.ProcessCap.ToString(),
            ["params"] = parameters,
            ["steps"] = train.Steps,
            ["infer_steps"] = infer.Steps,
            ["train_ms_per_step"] = R(train.MedianMs),
            ["train_ms_mean"] = R(train.MeanMs),
            ["train_img_s"] = R(batch * 1000.0 / train.MedianMs),
            ["train_cpu_ms_per_step"] = R(train.CpuMs),
            ["infer_ms_per_batch"] = R(infer.MedianMs),
            ["infer_ms_mean"] = R(infer.MeanMs),
            ["infer_img_s"] = R(batch * 1000.0 / infer.MedianMs),
            ["infer_cpu_ms_per_batch"] = R(infer.CpuMs),
            ["peak_rss_mb"] = Math.Round(PeakRssMb(), 1),
            ["alloc_mb_per_step"] = R(train.AllocMbPerStep),
            ["infer_alloc_mb_per_batch"] = R(infer.AllocMbPerStep),
            ["gc_pause_ms_per_step"] = R(train.GcPauseMsPerStep),
            ["gc_gen2_collections"] = train.Gen2Collections,
            // Page faults = freshly committed memory being touched (GC heap growth/decommit churn), ~0.1-0.2 µs/KB.
            ["minor_faults_per_step"] = Math.Round(train.MinorFaultsPerStep),
            ["phase_ms"] = phases.MsPerStep(train.Steps),
        };
    }

    private static double R(double v) => Math.Round(v, 2);

    /// <summary>Warm-up (JIT tiering, scratch buffers): <c>Warmup</c> steps, but stop after one if it alone took ≥ Seconds.</summary>
    public static void Warmup(Action step, BenchOptions o)
    {
        var sw = Stopwatch.StartNew();
        for (int n = 0; n < o.Warmup; n++)
        {
            step();
            if (sw.Elapsed.TotalSeconds >= o.Seconds) break;
        }
    }

    public sealed record Measurement(int Steps, double MedianMs, double MeanMs, double CpuMs, double AllocMbPerStep,
        double GcPauseMsPerStep, int Gen2Collections, double MinorFaultsPerStep);

    /// <summary>
    /// Times steps until at least MinSteps ran and at least Seconds elapsed. Reports the median step (robust to the
    /// bursts of a shared machine; GC pauses are rare per step, so the mean is reported too).
    /// </summary>
    public static Measurement Timed(Action step, BenchOptions o)
    {
        long alloc0 = GC.GetTotalAllocatedBytes(precise: true);
        var pause0 = GC.GetTotalPauseDuration();
        int gen2 = GC.CollectionCount(2);
        var cpu0 = Environment.CpuUsage.TotalTime;
        long faults0 = MinorFaults();
        var sw = Stopwatch.StartNew();
        var times = new List<double>();
        long last = Stopwatch.GetTimestamp();
        do
        {
            step();
            long now = Stopwatch.GetTimestamp();
            times.Add((now - last) * 1000.0 / Stopwatch.Frequency);
            last = now;
        } while (times.Count < o.MinSteps || sw.Elapsed.TotalSeconds < o.Seconds);
        int n = times.Count;
        double ms = sw.Elapsed.TotalMilliseconds;
        long alloc = GC.GetTotalAllocatedBytes(precise: true) - alloc0;
        double cpuMs = (Environment.CpuUsage.TotalTime - cpu0).TotalMilliseconds / n;
        return new Measurement(n, Median(times), ms / n, cpuMs, alloc / 1048576.0 / n,
            (GC.GetTotalPauseDuration() - pause0).TotalMilliseconds / n, GC.CollectionCount(2) - gen2,
            (double)(MinorFaults() - faults0) / n);
    }

    public static double Median(List<double> v)
    {
        var s = v.Order().ToArray();
        return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
    }

    /// <summary>minflt (field 10) of /proc/self/stat; the command name in parentheses may contain spaces.</summary>
    public static long MinorFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7]); // fields after the name start at field 3 (state)
    }

    /// <summary>VmHWM (peak resident set) of this process in MiB, from /proc/self/status.</summary>
    public static double PeakRssMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) / 1024.0;
        throw new InvalidOperationException("VmHWM not found in /proc/self/status");
    }
}

/// <summary>Accumulates wall time of consecutive phases of a step (Stopwatch timestamps; negligible overhead).</summary>
public sealed class PhaseTimer(params string[] names)
{
    private readonly long[] _ticks = new long[names.Length];
    private long _last;

    public void Start() => _last = Stopwatch.GetTimestamp();
    public void Lap(int phase) { long now = Stopwatch.GetTimestamp(); _ticks[phase] += now - _last; _last = now; }
    public void Reset() => Array.Clear(_ticks);

    public Dictionary<string, double> MsPerStep(int steps) =>
        names.Select((n, i) => (n, ms: Math.Round(_ticks[i] * 1000.0 / Stopwatch.Frequency / steps, 2)))
             .ToDictionary(t => t.n, t => t.ms);
}
