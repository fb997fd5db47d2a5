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
                var (d, sp) = Interleaved(() => dense.Forward(x), () => sparse.Forward(x), o);
                if (o.Profile) { PrintLayerTimes("dense", name, batch, dense, x); PrintLayerTimes("sparse", name, batch, sparse, x); }
                yield return new Dictionary<string, object>
                {
                    ["impl"] = "sharpprune", ["bench"] = "sparse_model", ["model"] = name, ["batch"] = batch, ["threads"] = o.Threads,
                    ["dense_ms"] = Math.Round(d.MedianMs, 4), ["sparse_ms"] = Math.Round(sp.MedianMs, 4), ["speedup"] = Math.Round(d.MedianMs / sp.MedianMs, 2),
                    ["dense_cpu_ms"] = Math.Round(d.CpuMs, 4), ["sparse_cpu_ms"] = Math.Round(sp.CpuMs, 4),
                    ["cpu_speedup"] = Math.Round(d.CpuMs / sp.CpuMs, 2), ["peak_rss_mb"] = Math.Round(ModelBench.PeakRssMb(), 1),
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

    /// <summary>
    /// Dense and sparse no-grad calls timed in alternation (dense, sparse, dense, sparse: a change in machine load
    /// hits both), each side's best round kept: median wall ms per call and process CPU ms per call.
    /// </summary>
    private static (ModelBench.Measurement Dense, ModelBench.Measurement Sparse) Interleaved(Func<Tensor> dense, Func<Tensor> sparse, BenchOptions o)
    {
        using var _ = GradMode.NoGrad();
        ModelBench.Warmup(() => dense(), o);
        ModelBench.Warmup(() => sparse(), o);
        ModelBench.Measurement? bd = null, bs = null;
        for (int round = 0; round < 2; round++)
        {
            var d = ModelBench.Timed(() => dense(), o);
            var s = ModelBench.Timed(() => sparse(), o);
            if (bd == null || d.MedianMs < bd.MedianMs) bd = d;
            if (bs == null || s.MedianMs < bs.MedianMs) bs = s;
        }
        return (bd!, bs!);
    }

    private static readonly double[] Densities = [1.0, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02];

    /// <summary>The layer shapes of the crossover table: AlexNet's (CIFAR) and LeNet-300-100's, and a VGG/ResNet-style 32×32 convolution.</summary>
    private static readonly (string Name, Func<Module> Make, int[] Input, int[] Batches)[] CrossoverLayers =
    [
        ("linear 4096x4096 (alexnet fc2)", () => new Linear(4096, 4096, generator: new Generator(1)), [4096], [1, 128]),
        ("linear 784x300 (lenet300 fc1)", () => new Linear(784, 300, generator: new Generator(1)), [784], [1, 128]),
        ("conv 64->192 5x5 @4x4 (alexnet conv2)", () => new Conv2d(64, 192, 5, padding: 2, generator: new Generator(1)), [64, 4, 4], [1, 128]),
        ("conv 384->256 3x3 @2x2 (alexnet conv4)", () => new Conv2d(384, 256, 3, padding: 1, generator: new Generator(1)), [384, 2, 2], [1, 128]),
        ("conv 64->64 3x3 @32x32 (vgg/resnet)", () => new Conv2d(64, 64, 3, padding: 1, generator: new Generator(1)), [64, 32, 32], [1, 16]),
    ];

    public static IEnumerable<Dictionary<string, object>> Crossover(BenchOptions o)
    {
        Parallelism.MaxThreads = o.Threads;
        foreach (var (lname, make, input, batches) in CrossoverLayers)
            foreach (int batch in o.Batch > 0 ? new[] { o.Batch } : batches)
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
                    var dn = Build(false); var sn = Build(true);
                    var (d, sp) = Interleaved(() => dn.Forward(x), () => sn.Forward(x), o);
                    yield return new Dictionary<string, object>
                    {
                        ["impl"] = "sharpprune", ["bench"] = "sparse_crossover", ["layer"] = lname, ["batch"] = batch, ["density"] = density,
                        ["threads"] = o.Threads, ["dense_ms"] = Math.Round(d.MedianMs, 4), ["sparse_ms"] = Math.Round(sp.MedianMs, 4),
                        ["speedup"] = Math.Round(d.MedianMs / sp.MedianMs, 2), ["cpu_speedup"] = Math.Round(d.CpuMs / sp.CpuMs, 2),
                    };
                }
            }
    }

    private static readonly (string Name, int Out, int In, double Density)[] SpmvLayers =
    [
        ("lenet300 fc1", 300, 784, 0.08), ("lenet300 fc2", 100, 300, 0.08), ("lenet300 fc3", 10, 100, 0.08),
        ("alexnet fc1", 4096, 256, 0.09), ("alexnet fc2", 4096, 4096, 0.05), ("alexnet fc3", 10, 4096, 0.25),
        ("1024x1024", 1024, 1024, 0.08), ("2048x2048", 2048, 2048, 0.08), ("1024x1024 30%", 1024, 1024, 0.3),
        ("1024x1024 2%", 1024, 1024, 0.02), ("1024x1024 0.5%", 1024, 1024, 0.005), ("4096x4096 1%", 4096, 4096, 0.01),
        ("4096x4096 0.2%", 4096, 4096, 0.002),
    ];

    /// <summary>
    /// The batch-1 sparse Linear kernel alone (SparseKernels.LinearForward, one row, random non-zero positions):
    /// the CSR kernel (gathers; the AVX2 path, the same code AVX-512 ran before the panel layout) and the panel layout
    /// on one thread (process CPU µs per call), and the panel layout split over --threads threads (wall µs).
    /// Rounds alternate the variants; each keeps its best round.
    /// </summary>
    public static IEnumerable<Dictionary<string, object>> Spmv(BenchOptions o)
    {
        foreach (var (lname, outF, inF, density) in SpmvLayers)
        {
            var rng = new Random(1);
            var d = new float[outF * inF];
            for (int i = 0; i < d.Length; i++) if (rng.NextDouble() < density) d[i] = (float)(rng.NextDouble() * 2 - 1);
            var a = CsrMatrix.FromDense(d, outF, inF);
            var x = Tensor.Randn(new Generator(2), inF).ToArray();
            var bias = Tensor.Randn(new Generator(3), outF).ToArray();
            var y = new float[outF];
            int reps = (int)Math.Clamp(2_000_000 / Math.Max(1, a.NonZeros), 1, 1000); // ~1 ms per step
            var ell = a.PanelEll;
            void Run(CpuIsa? isa, int threads, long serialSlots)
            {
                Gemm.MaxIsa = isa; Parallelism.MaxThreads = threads; SparseKernels.PanelSerialSlots = serialSlots;
                try { for (int i = 0; i < reps; i++) SparseKernels.LinearForward(a, x, 1, y, bias); }
                finally { Gemm.MaxIsa = null; Parallelism.MaxThreads = o.Threads; SparseKernels.PanelSerialSlots = SparseKernels.DefaultPanelSerialSlots; }
            }
            var variants = new (string Name, Action Step)[]
            {
                ("csr", () => Run(CpuIsa.Avx2, 1, long.MaxValue)),
                ("panel", () => Run(null, 1, long.MaxValue)),
                ($"panel {o.Threads}t", () => Run(null, o.Threads, 0)),
            };
            var best = new ModelBench.Measurement?[variants.Length];
            foreach (var v in variants) ModelBench.Warmup(v.Step, o);
            for (int round = 0; round < 5; round++)
                for (int k = 0; k < variants.Length; k++)
                {
                    var m = ModelBench.Timed(variants[k].Step, o);
                    if (best[k] == null || m.CpuMs < best[k]!.CpuMs) best[k] = m;
                }
            double Us(double ms) => Math.Round(1000 * ms / reps, 3);
            yield return new Dictionary<string, object>
            {
                ["impl"] = "sharpprune", ["bench"] = "sparse_spmv", ["layer"] = $"{lname} {outF}x{inF}", ["density"] = density,
                ["nnz"] = a.NonZeros, ["levels"] = ell?.Levels ?? 0, ["padding"] = Math.Round(ell?.PaddingRatio ?? 0, 2), ["panel_kib"] = ell == null ? "none: csr" : ell.Bytes / 1024,
                ["csr_cpu_us"] = Us(best[0]!.CpuMs), ["panel_cpu_us"] = Us(best[1]!.CpuMs),
                ["panel_us"] = Us(best[1]!.MedianMs), ["panel_nt_us"] = Us(best[2]!.MedianMs), ["threads"] = o.Threads,
            };
        }
    }

    public static string Format(Dictionary<string, object> r) => r["bench"] switch
    {
        "sparse_model" => $"{r["model"],-9} batch {r["batch"],4}: dense {r["dense_ms"],9} ms  sparse {r["sparse_ms"],9} ms  {r["speedup"],6}x  (cpu {r["cpu_speedup"]}x)  [{r["layers"]}]",
        "sparse_spmv" => $"{r["layer"],-26} {r["density"],4} nnz {r["nnz"],7} levels {r["levels"],6} (x{r["padding"]}, {r["panel_kib"]} KiB): " +
            $"cpu µs csr {r["csr_cpu_us"],8} panel {r["panel_cpu_us"],8} | wall µs panel {r["panel_us"],8} on {r["threads"]}t {r["panel_nt_us"],8}",
        _ => $"{r["layer"],-40} batch {r["batch"],4} density {r["density"],5}: dense {r["dense_ms"],9} ms  sparse {r["sparse_ms"],9} ms  {r["speedup"],6}x  (cpu {r["cpu_speedup"]}x)",
    };
}
