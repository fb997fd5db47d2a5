using System.Text.RegularExpressions;
using SharpPrune.NN;
using SharpPrune.Pruning.Structured;
using SharpPrune.Vision.Models;

namespace SharpPrune.Bench;

/// <summary>Command-line options shared by the parent run and the per-model child processes.</summary>
public sealed class BenchOptions
{
    public const string DefaultModels = "lenet5,alexnet,vgg16,resnet56";

    public List<string> Models { get; private set; } = DefaultModels.Split(',').ToList();
    public bool ModelsGiven { get; private set; }
    public int Threads { get; private set; } = 2;
    public double Seconds { get; private set; } = 5.0;
    public int MinSteps { get; private set; } = 3;
    public int Warmup { get; private set; } = 2;
    public int Batch { get; private set; }            // 0 = per-model default
    public bool Json { get; private set; }
    public bool Gemm { get; private set; }
    public bool Convs { get; private set; }
    /// <summary>Single-thread SGEMM per vector ISA (AVX2 vs AVX-512), interleaved, process CPU time: a kernel
    /// comparison that holds on a loaded machine.</summary>
    public bool IsaCompare { get; private set; }
    public int[] GemmSizes { get; private set; } = { 256, 512, 1024, 2048 };
    /// <summary>Per-op forward/backward breakdown to stderr (also enabled by SP_BENCH_PROFILE=1).</summary>
    public bool Profile { get; private set; } = Environment.GetEnvironmentVariable("SP_BENCH_PROFILE") == "1";
    public string? Single { get; private set; }
    /// <summary>Pruned-model inference, dense vs sparse kernels (see SparseBench).</summary>
    public bool Sparse { get; private set; }
    public bool SparseCrossover { get; private set; }
    /// <summary>The batch-1 sparse Linear kernel alone: CSR vs the panel layout, 1 thread vs --threads.</summary>
    public bool SparseSpmv { get; private set; }
    /// <summary>Uniform kept fraction for --sparse models other than alexnet (Han et al.'s per-layer densities).</summary>
    public double Density { get; private set; } = 0.08;
    /// <summary>Also run each model's exported ONNX graph in ONNX Runtime (inference only).</summary>
    public bool Ort { get; private set; }
    /// <summary>Child mode with --single: time this .onnx file in ONNX Runtime instead of our model.</summary>
    public string? OrtFile { get; private set; }

    public const string Usage =
        "usage: SharpPrune.Bench [--models a,b,..] [--threads N] [--seconds S] [--min-steps N] [--warmup N]\n" +
        "                        [--batch N] [--json] [--gemm] [--gemm-sizes 256,512,..] [--convs] [--isa-compare] [--profile] [--ort]\n" +
        "                        [--sparse [--density D]] [--sparse-crossover] [--sparse-spmv]\n" +
        "env: SP_MAX_ISA=avx512|avx2|portable caps the vector ISA of our kernels\n" +
        "models: " + DefaultModels + "   (--gemm / --convs alone measure only those; add --models to run models too)";

    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"option {a} needs a value\n{Usage}");
            switch (a)
            {
                case "--models":
                    o.Models = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
                    o.ModelsGiven = true;
                    break;
                case "--threads": o.Threads = PositiveInt(a, Value()); break;
                case "--seconds": o.Seconds = double.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--min-steps": o.MinSteps = PositiveInt(a, Value()); break;
                case "--warmup": o.Warmup = int.Parse(Value()); break;
                case "--batch": o.Batch = int.Parse(Value()); break;
                case "--json": o.Json = true; break;
                case "--gemm": o.Gemm = true; break;
                case "--convs": o.Convs = true; break;
                case "--isa-compare": o.IsaCompare = true; break;
                case "--gemm-sizes": o.GemmSizes = Value().Split(',').Select(s => PositiveInt(a, s)).ToArray(); break;
                case "--profile": o.Profile = true; break;
                case "--single": o.Single = Value(); break;
                case "--sparse": o.Sparse = true; break;
                case "--sparse-crossover": o.SparseCrossover = true; break;
                case "--sparse-spmv": o.SparseSpmv = true; break;
                case "--density": o.Density = double.Parse(Value(), System.Globalization.CultureInfo.InvariantCulture); break;
                case "--ort": o.Ort = true; break;
                case "--ort-file": o.OrtFile = Value(); break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException($"unknown option '{a}'\n{Usage}");
            }
        }
        foreach (var m in o.Single is null ? o.Models : new List<string> { o.Single })
            if (!ModelSpec.All.ContainsKey(m))
                throw new ArgumentException($"unknown model '{m}'; valid: {string.Join(", ", ModelSpec.All.Keys)}");
        return o;
    }

    /// <summary>Arguments for a child process that measures one model.</summary>
    public List<string> ChildArgs(string model)
    {
        var l = new List<string> { "--single", model, "--threads", $"{Threads}", "--min-steps", $"{MinSteps}",
            "--warmup", $"{Warmup}", "--batch", $"{Batch}",
            "--seconds", Seconds.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (Profile) l.Add("--profile");
        return l;
    }

    private static int PositiveInt(string opt, string s) =>
        int.TryParse(s, out int v) && v > 0 ? v : throw new ArgumentException($"{opt} expects a positive integer, got '{s}'");
}

/// <summary>Benchmark shapes per model (CIFAR-style 3×32×32 except LeNet-5 on 1×28×28), mirrored in bench/torch_models.py.</summary>
/// <summary>A benchmark model: a zoo model, or a zoo model shrunk by structured pruning (<see cref="ShrinkLayers"/>
/// non-null: remove <see cref="ShrinkRatio"/> of the channels of every group whose producing layer matches).</summary>
public sealed record ModelSpec(int Batch, int[] Input, int Classes, string? ZooName = null, double ShrinkRatio = 0, string? ShrinkLayers = null)
{
    public static readonly IReadOnlyDictionary<string, ModelSpec> All = new Dictionary<string, ModelSpec>
    {
        ["lenet5"] = new(128, new[] { 1, 28, 28 }, 10),
        ["lenet300"] = new(128, new[] { 1, 28, 28 }, 10),
        ["alexnet"] = new(128, new[] { 3, 32, 32 }, 10),
        ["vgg16"] = new(64, new[] { 3, 32, 32 }, 10),
        ["resnet56"] = new(64, new[] { 3, 32, 32 }, 10),
        // The shrunk models (issue #9): VGG-16 with half of every conv's channels removed (the VGG repository's
        // --ar 0.5: cfg halved, classifier 256 -> 512 -> 10), ResNet-56 with half of every prunable group
        // (stage widths 8/16/32, block convs halved). torch_models.py builds the same architectures.
        ["vgg16-s50"] = new(64, new[] { 3, 32, 32 }, 10, "vgg16", 0.5, @"features\.\d+"),
        ["resnet56-s50"] = new(64, new[] { 3, 32, 32 }, 10, "resnet56", 0.5, ".*"),
    };

    public Module Create(string name)
    {
        var model = ModelZoo.Create(ZooName ?? name, Classes, new Generator(0));
        if (ShrinkLayers is null) return model;
        Shrink.Apply(model, Tensor.Zeros(new[] { 1 }.Concat(Input).ToArray()),
            new ShrinkOptions { Ratio = ShrinkRatio, Layers = new Regex($"^(?:{ShrinkLayers})$") });
        return model;
    }
}
