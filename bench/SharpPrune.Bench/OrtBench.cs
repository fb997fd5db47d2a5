using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using SharpPrune.Onnx;
using SharpPrune.Vision.Models;

namespace SharpPrune.Bench;

/// <summary>
/// ONNX Runtime running our exported graph of the same model (same weights seed, batch and input as
/// <see cref="ModelBench"/>): what a user would deploy with instead of SharpPrune's own inference. The parent
/// process exports the model to a file first, so this process holds only ONNX Runtime's copy of it.
/// </summary>
public static class OrtBench
{
    /// <summary>Exports <paramref name="name"/> (seed 0, as ModelBench builds it) to a temporary .onnx file.</summary>
    public static string Export(string name)
    {
        var spec = ModelSpec.All[name];
        var model = spec.Create(name); // shrunk models (vgg16-s50, …) too, as ModelBench builds them
        string path = Path.Combine(Path.GetTempPath(), $"sharpprune-bench-{name}-{Environment.ProcessId}.onnx");
        OnnxExporter.Save(model, spec.Input, path);
        return path;
    }

    public static Dictionary<string, object> Run(string name, string onnxPath, BenchOptions o)
    {
        var spec = ModelSpec.All[name];
        int batch = o.Batch > 0 ? o.Batch : spec.Batch;
        var x = Tensor.Randn(new Generator(1), new[] { batch }.Concat(spec.Input).ToArray());
        using var options = new SessionOptions
        {
            IntraOpNumThreads = o.Threads, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        using var session = new InferenceSession(onnxPath, options);
        var input = new DenseTensor<float>(x.ToArray(), x.Shape.ToArray());
        var feeds = new[] { NamedOnnxValue.CreateFromTensor(session.InputMetadata.Keys.First(), input) };
        void InferStep() { using var r = session.Run(feeds); }
        ModelBench.Warmup(InferStep, o);
        var infer = ModelBench.Timed(InferStep, o);
        return new Dictionary<string, object>
        {
            ["impl"] = "onnxruntime",
            ["model"] = name,
            ["batch"] = batch,
            ["threads"] = o.Threads,
            ["ort_version"] = typeof(InferenceSession).Assembly.GetName().Version?.ToString() ?? "?",
            ["infer_steps"] = infer.Steps,
            ["infer_ms_per_batch"] = Math.Round(infer.MedianMs, 2),
            ["infer_ms_mean"] = Math.Round(infer.MeanMs, 2),
            ["infer_img_s"] = Math.Round(batch * 1000.0 / infer.MedianMs, 2),
            ["infer_cpu_ms_per_batch"] = Math.Round(infer.CpuMs, 2),
            ["peak_rss_mb"] = Math.Round(ModelBench.PeakRssMb(), 1),
        };
    }
}
