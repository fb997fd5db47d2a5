using SharpPrune.Autograd;
using System.Diagnostics;
using System.Reflection;
using SharpPrune.NN;
using SharpPrune.Optim;
using Module = SharpPrune.NN.Module;

namespace SharpPrune.Bench;

/// <summary>
/// Where a train step's time goes (--profile / SP_BENCH_PROFILE=1), printed to stderr:
/// forward time per leaf-module type (pre/post forward hooks), backward time per autograd node name, and the
/// optimizer. Backward nodes are internal to Core, so the graph is re-wired through reflection here, in the bench
/// only; if Core's internals change the backward breakdown degrades to a total instead of failing the run.
/// </summary>
public static class OpProfiler
{
    private static readonly PropertyInfo? GradFnProp =
        typeof(Tensor).GetProperty("GradFn", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public);

    public static void ProfileTrainStep(string name, Module model, Tensor x, int[] targets, Optimizer opt, int steps = 3)
    {
        var fwd = new Dictionary<string, Stat>();
        var layer = new Dictionary<string, Stat>();
        var bwd = new Dictionary<string, Stat>();
        var total = new Dictionary<string, Stat>();
        var handles = HookLeaves(model, fwd, layer);
        bool wired = true;
        double liveMb = 0, rssMb = 0;
        try
        {
            // Step 0 is a warm-up for the hooks and wrappers (JIT), its numbers are dropped.
            for (int s = 0; s <= steps; s++)
            {
                if (s == 1) { fwd.Clear(); layer.Clear(); bwd.Clear(); total.Clear(); }
                long t0 = Stopwatch.GetTimestamp();
                opt.ZeroGrad();
                var logits = model.Forward(x);
                long t1 = Stopwatch.GetTimestamp();
                var loss = F.CrossEntropy(logits, targets);
                long t2 = Stopwatch.GetTimestamp();
                wired &= WrapBackward(loss, bwd);
                // Untimed: what the graph really keeps alive at its largest (after forward), against the RSS.
                if (s == steps) { liveMb = GC.GetTotalMemory(forceFullCollection: true) / 1048576.0; rssMb = CurrentRssMb(); }
                long t3 = Stopwatch.GetTimestamp();
                loss.Backward();
                long t4 = Stopwatch.GetTimestamp();
                opt.Step();
                long t5 = Stopwatch.GetTimestamp();
                Add(total, "forward", t1 - t0); Add(total, "loss", t2 - t1);
                Add(total, "backward", t4 - t3); Add(total, "optimizer", t5 - t4);
            }
        }
        finally
        {
            foreach (var h in handles) h.Remove();
        }

        var err = Console.Error;
        double stepMs = total.Values.Sum(v => v.Ms) / steps;
        err.WriteLine($"--- sharpprune profile: {name}, {steps} instrumented train steps, {stepMs:F1} ms/step ---");
        Print(err, "phase", total, steps, stepMs, 10);
        err.WriteLine($"  memory after forward: {liveMb:F0} MB managed live (after a full GC), {rssMb:F0} MB RSS; " +
                      $"peak RSS so far {ModelBench.PeakRssMb():F0} MB");
        double fwdModules = fwd.Values.Sum(v => v.Ms);
        fwd["(outside leaf modules)"] = new Stat { Ms = total["forward"].Ms - fwdModules, Calls = steps };
        Print(err, "forward by module type", fwd, steps, stepMs, 12);
        Print(err, "forward: slowest layers", layer, steps, stepMs,
            int.TryParse(Environment.GetEnvironmentVariable("SP_BENCH_PROFILE_TOP"), out int top) ? top : 10);
        if (wired)
        {
            double inNodes = bwd.Values.Sum(v => v.Ms);
            bwd["(engine overhead, accumulation)"] = new Stat { Ms = total["backward"].Ms - inNodes, Calls = steps };
            Print(err, "backward by autograd node", bwd, steps, stepMs, 14);
        }
        else err.WriteLine("backward per-node breakdown unavailable (Core internals changed); see phase totals");
    }

    /// <summary>Inference (model in eval mode, no-grad): forward time per leaf-module type and slowest layers.</summary>
    public static void ProfileInference(string name, Module model, Tensor x, int steps = 3)
    {
        var fwd = new Dictionary<string, Stat>();
        var layer = new Dictionary<string, Stat>();
        var total = new Dictionary<string, Stat>();
        var handles = HookLeaves(model, fwd, layer);
        TimeSpan pause0 = default;
        int[] gc0 = new int[3];
        try
        {
            for (int s = 0; s <= steps; s++)
            {
                if (s == 1)
                {
                    fwd.Clear(); layer.Clear(); total.Clear();
                    pause0 = GC.GetTotalPauseDuration();
                    for (int gen = 0; gen < 3; gen++) gc0[gen] = GC.CollectionCount(gen);
                }
                using var _ = GradMode.NoGrad();
                long t0 = Stopwatch.GetTimestamp();
                model.Forward(x);
                Add(total, "forward", Stopwatch.GetTimestamp() - t0);
            }
        }
        finally
        {
            foreach (var h in handles) h.Remove();
        }
        var err = Console.Error;
        double ms = total["forward"].Ms / steps;
        err.WriteLine($"--- sharpprune profile: {name}, {steps} instrumented inference batches, {ms:F1} ms/batch ---");
        err.WriteLine($"  GC: {(GC.GetTotalPauseDuration() - pause0).TotalMilliseconds / steps:F1} ms/batch paused; collections per batch " +
                      $"gen0 {(double)(GC.CollectionCount(0) - gc0[0]) / steps:F1}, gen1 {(double)(GC.CollectionCount(1) - gc0[1]) / steps:F1}, " +
                      $"gen2 {(double)(GC.CollectionCount(2) - gc0[2]) / steps:F1}");
        fwd["(outside leaf modules)"] = new Stat { Ms = total["forward"].Ms - fwd.Values.Sum(v => v.Ms), Calls = steps };
        Print(err, "inference by module type", fwd, steps, ms, 12);
        Print(err, "inference: slowest layers", layer, steps, ms,
            int.TryParse(Environment.GetEnvironmentVariable("SP_BENCH_PROFILE_TOP"), out int top) ? top : 10);
    }

    /// <summary>Times every leaf module's forward (pre/post hooks) into per-type and per-layer stats.</summary>
    private static List<HookHandle> HookLeaves(Module model, Dictionary<string, Stat> byType, Dictionary<string, Stat> byLayer)
    {
        var handles = new List<HookHandle>();
        foreach (var (path, m) in model.NamedModules())
        {
            if (m.Children().Any()) continue;
            var timer = new LeafTimer($"{path} ({m.TypeName})", byType, byLayer);
            handles.Add(m.RegisterForwardPreHook(timer));
            handles.Add(m.RegisterForwardHook(timer));
        }
        return handles;
    }

    /// <summary>Keeps no tensor, so the containers still recycle activations while profiling.</summary>
    private sealed class LeafTimer(string layerKey, Dictionary<string, Stat> byType, Dictionary<string, Stat> byLayer)
        : IForwardPreHook, IForwardHook, IRetainsNoTensors
    {
        private long _start;

        public Tensor? Invoke(Module module, Tensor input)
        {
            _start = Stopwatch.GetTimestamp();
            return null;
        }

        public Tensor? Invoke(Module module, Tensor input, Tensor output)
        {
            long d = Stopwatch.GetTimestamp() - _start;
            double flops = ForwardFlops(module, output);
            Add(byType, module.TypeName, d, flops); Add(byLayer, layerKey, d, flops);
            return null;
        }
    }

    // 2·MACs of the dense math, to show how close each op runs to the GEMM's GFLOP/s.
    private static double ForwardFlops(Module m, Tensor output)
    {
        var w = m.HasParameter("weight") || m.HasAttribute("weight") ? m["weight"] : null;
        if (w is null) return 0;
        return m switch
        {
            Conv2d when w.Dim == 4 => 2.0 * output.Numel * (w.Numel / w.Size(0)),
            Linear when w.Dim == 2 => 2.0 * output.Numel * w.Size(1),
            _ => 0,
        };
    }

    private static double BackwardFlops(string op, Tensor[] inputs, Tensor gradOut)
    {
        if (op != "ConvolutionBackward" || inputs.Length < 2 || inputs[1].Dim != 4) return 0;
        var w = inputs[1];
        double one = 2.0 * gradOut.Numel * (w.Numel / w.Size(0));  // grad weight; grad input costs the same
        return inputs[0].RequiresGrad ? 2 * one : one;
    }

    private static double CurrentRssMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim()) / 1024.0;
        return double.NaN;
    }

    private sealed class Stat { public double Ms, Flops; public int Calls; }

    private static void Add(Dictionary<string, Stat> d, string key, long ticks, double flops = 0)
    {
        if (!d.TryGetValue(key, out var s)) d[key] = s = new Stat();
        s.Ms += ticks * 1000.0 / Stopwatch.Frequency;
        s.Flops += flops;
        s.Calls++;
    }

    private static void Print(TextWriter w, string title, Dictionary<string, Stat> d, int steps, double stepMs, int top)
    {
        w.WriteLine($"  {title}:");
        foreach (var (k, s) in d.OrderByDescending(kv => kv.Value.Ms).Take(top).Select(kv => (kv.Key, kv.Value)))
            w.WriteLine($"    {k,-36} {s.Ms / steps,9:F2} ms/step {100 * s.Ms / steps / stepMs,5:F1}%  {(double)s.Calls / steps,5:F0} calls/step" +
                        (s.Flops > 0 ? $"  {s.Flops / (s.Ms * 1e6),6:F1} GFLOP/s" : ""));
    }

    /// <summary>Replaces every node of the graph under <paramref name="root"/> by one whose closure is timed.</summary>
    private static bool WrapBackward(Tensor root, Dictionary<string, Stat> stats)
    {
        if (GradFnProp is null) return false;
        var nodeType = GradFnProp.PropertyType;
        var nameF = nodeType.GetField("Name");
        var inputsF = nodeType.GetField("Inputs");
        var backF = nodeType.GetField("Backward");
        var savedF = nodeType.GetField("Saved");
        var outVersionF = nodeType.GetField("OutputVersion");
        var ctor = savedF is null ? null : nodeType.GetConstructor(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, null,
            new[] { typeof(string), typeof(Tensor[]), typeof(Func<Tensor, Tensor?[]>), savedF.FieldType }, null);
        if (nameF is null || inputsF is null || backF is null || ctor is null || outVersionF is null) return false;

        var wrapped = new Dictionary<object, object>(ReferenceEqualityComparer.Instance);
        var seen = new HashSet<Tensor>(ReferenceEqualityComparer.Instance) { root };
        var stack = new Stack<Tensor>();
        stack.Push(root);
        while (stack.Count > 0)
        {
            var t = stack.Pop();
            var node = GradFnProp.GetValue(t);
            if (node is null) continue;
            var inputs = (Tensor[])inputsF.GetValue(node)!;
            if (!wrapped.TryGetValue(node, out var w))
            {
                string opName = (string)nameF.GetValue(node)!;
                var inner = (Func<Tensor, Tensor?[]>)backF.GetValue(node)!;
                Func<Tensor, Tensor?[]> timed = g =>
                {
                    long s = Stopwatch.GetTimestamp();
                    var r = inner(g);
                    Add(stats, opName, Stopwatch.GetTimestamp() - s, BackwardFlops(opName, inputs, g));
                    return r;
                };
                // Same saved-tensor version checks as the original node (it was recorded at the same versions).
                w = ctor.Invoke(new object[] { opName, inputs, timed, savedF.GetValue(node)! });
                outVersionF.SetValue(w, outVersionF.GetValue(node));
                wrapped[node] = w;
            }
            GradFnProp.SetValue(t, w);
            foreach (var i in inputs)
                if (i.RequiresGrad && seen.Add(i)) stack.Push(i);
        }
        return true;
    }
}
