using SharpPrune.Autograd;
using SharpPrune.Kernels;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Bench;

/// <summary>
/// Pruned-model inference: the same pruned weights run dense (zeros multiplied, Prune.Remove'd plain layers) and
/// through <see cref="SparseInference.ToInference"/>, at batch 1 and the model's batch (or --batch). AlexNet is
/// pruned to the per-layer densities of Han et al. 2015's AlexNet table; other models keep --density of every
/// Conv2d/Linear weight. The PyTorch dense side is torch_bench.py --models M --batch B (zeros cost PyTorch the same).
/// --sparse-crossover times single layers dense vs sparse over densities (the table behind SparseCrossover).
/// </summary>
public static class SparseBench
{
    /// <summary>Kept fraction per layer, from Han et al. 2015's AlexNet table.</summary>
    public static readonly Dictionary<string, double> HanAlexNet = new()
    {
        ["conv1"] = 0.84, ["conv2"] = 0.38, ["conv3"] = 0.35, ["conv4"] = 0.37, ["conv5"] = 0.37,
        ["fc1"] = 0.09, ["fc2"] = 0.05, ["fc3"] = 0.25,
    };

    public static Module Pruned(string name, double density)
    {
        var spec = ModelSpec.All[name];
        var model = ModelZoo.Create(name, spec.Classes, new Generator(0));
        foreach (var (path, m) in model.NamedModules().Where(m => m.Module is Conv2d or Linear).ToList())
        {
            double keep = name == "alexnet" ? HanAlexNet[path] : density;
            Prune.L1Unstructured(m, "weight", 1 - keep);
        }
        return model.Eval();
    }

    public static IEnumerable<Dictionary<string, object>> Models(BenchOptions o)
    {
        Parallelism.MaxThreads = o.Threads;
        foreach (var name in o.Models)
        {
            var spec = ModelSpec.All[name];
            var dense = Pruned(name, o.Density);
            SparseInference.ToInference(dense, sparse: false);
            var sparse = Pruned(name, o.Density);
            var choices = SparseInference.ToInference(sparse);
            foreach (int batch in o.Batch > 0 ? new[] { o.Batch } : new[] { 1, spec.Batch })
            {
                var x = Tensor.Randn(new Generator(1), [batch, .. spec.Input]);
                double dms = Time(() => dense.Forward(x), o), sms = Time(() => sparse.Forward(x), o);
                if (o.Profile) { PrintLayerTimes("dense", name, batch, dense, x); PrintLayerTimes("sparse", name, batch, sparse, x); }
                yield return new Dictionary<string, object>
                {
                    ["impl"] = "sharpprune", ["bench"] = "sparse_model", ["model"] = name, ["batch"] = batch, ["threads"] = o.Threads,
                    ["dense_ms"] = Math.Round(dms, 3), ["sparse_ms"] = Math.Round(sms, 3), ["speedup"] = Math.Round(dms / sms, 2),
                    ["layers"] = string.Join(" ", choices.Select(c => $"{c.Path}:{100 * c.Density:F0}%{(c.Sparse ? "s" : "d")}")),
                };
            }
        }
    }

    /// <summary>Per-layer ms of one no-grad call (mean of 5) to stderr, from forward hooks on the Conv/Linear layers.</summary>
    private static void PrintLayerTimes(string label, string model, int batch, Module net, Tensor x)
    {
        var times = new Dictionary<string, double>();
        var handles = new List<HookHandle>();
        long start = 0;
        foreach (var (path, m) in net.NamedModules().Where(m => m.Module is Conv2d or Linear or SparseConv2d or SparseLinear))
        {
            string p = path;
            handles.Add(m.RegisterForwardPreHook((_, _) => { start = System.Diagnostics.Stopwatch.GetTimestamp(); return null; }));
            handles.Add(m.RegisterForwardHook((_, _, _) =>
            {
                times[p] = times.GetValueOrDefault(p) + (System.Diagnostics.Stopwatch.GetTimestamp() - start) * 1000.0 / System.Diagnostics.Stopwatch.Frequency / 5;
                return null;
            }));
        }
        using (GradMode.NoGrad()) for (int i = 0; i < 5; i++) net.Forward(x);
        foreach (var h in handles) h.Remove();
        Console.Error.WriteLine($"{model} batch {batch} {label}: " + string.Join("  ", times.Select(t => $"{t.Key} {t.Value:F3}")));
    }

    /// <summary>Median ms of one no-grad call.</summary>
    private static double Time(Func<Tensor> f, BenchOptions o)
    {
        using var _ = GradMode.NoGrad();
        ModelBench.Warmup(() => f(), o);
        return ModelBench.Timed(() => f(), o).MedianMs;
    }

    private static readonly double[] Densities = [1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1, 0.05, 0.02];

    public static IEnumerable<Dictionary<string, object>> Crossover(BenchOptions o)
    {
        Parallelism.MaxThreads = o.Threads;
        var layers = new (string Name, Func<Module> Make, int[] Input)[]
        {
            ("linear 4096x4096", () => new Linear(4096, 4096, generator: new Generator(1)), [4096]),
            ("linear 784x300", () => new Linear(784, 300, generator: new Generator(1)), [784]),
            ("conv 64->192 5x5 @8x8", () => new Conv2d(64, 192, 5, padding: 2, generator: new Generator(1)), [64, 8, 8]),
            ("conv 256->256 3x3 @4x4", () => new Conv2d(256, 256, 3, padding: 1, generator: new Generator(1)), [256, 4, 4]),
        };
        foreach (var (lname, make, input) in layers)
            foreach (int batch in o.Batch > 0 ? new[] { o.Batch } : new[] { 1, 128 })
            {
                var x = Tensor.Randn(new Generator(2), [batch, .. input]);
                foreach (var density in Densities)
                {
                    Module Build(bool sparse)
                    {
                        var net = new Sequential(new (string, Module)[] { ("layer", make()) });
                        Prune.L1Unstructured(net.GetSubmodule("layer"), "weight", 1 - density);
                        SparseInference.ToInference(net, sparse, force: sparse);
                        return net;
                    }
                    var d = Build(false); var s = Build(true);
                    double dms = Time(() => d.Forward(x), o), sms = Time(() => s.Forward(x), o);
                    yield return new Dictionary<string, object>
                    {
                        ["impl"] = "sharpprune", ["bench"] = "sparse_crossover", ["layer"] = lname, ["batch"] = batch, ["density"] = density,
                        ["threads"] = o.Threads, ["dense_ms"] = Math.Round(dms, 4), ["sparse_ms"] = Math.Round(sms, 4), ["speedup"] = Math.Round(dms / sms, 2),
                    };
                }
            }
    }

    public static string Format(Dictionary<string, object> r) => r["bench"] switch
    {
        "sparse_model" => $"{r["model"],-9} batch {r["batch"],4}: dense {r["dense_ms"],9} ms  sparse {r["sparse_ms"],9} ms  {r["speedup"],6}x   [{r["layers"]}]",
        _ => $"{r["layer"],-24} batch {r["batch"],4} density {r["density"],5}: dense {r["dense_ms"],9} ms  sparse {r["sparse_ms"],9} ms  {r["speedup"],6}x",
    };
}
