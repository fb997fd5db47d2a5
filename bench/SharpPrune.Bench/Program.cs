using System.Diagnostics;
using System.Text.Json;
using SharpPrune.Bench;
using SharpPrune.Kernels;

// SharpPrune speed benchmark; the PyTorch side is bench/torch_bench.py, the side-by-side table bench/compare.py.
//   dotnet run -c Release --project bench/SharpPrune.Bench -- --models lenet5,alexnet,vgg16,resnet56 --threads 2 --json
//   dotnet run -c Release --project bench/SharpPrune.Bench -- --gemm --json
//   --ort adds ONNX Runtime running each model's exported ONNX graph (inference, same threads) as a third column
// Each model runs in a fresh child process (internal --single MODEL) so its peak RSS is its own.
BenchOptions o;
try { o = BenchOptions.Parse(args); }
catch (ArgumentException e) { Console.Error.WriteLine(e.Message); return 2; }
try { _ = KernelIsa.ProcessCap; } // SP_MAX_ISA: a bad value is a usage error, not a stack trace
catch (InvalidOperationException e) { Console.Error.WriteLine(e.Message); return 2; }

if (o.Single is not null)
{
    Console.WriteLine(JsonSerializer.Serialize(o.OrtFile is { } f ? OrtBench.Run(o.Single, f, o) : ModelBench.Run(o.Single, o)));
    return 0;
}

if (o.IsaCompare)
{
    foreach (var r in IsaCompare.Run(o.GemmSizes))
        Console.WriteLine(o.Json ? JsonSerializer.Serialize(r)
            : $"{r["what"],-28} 1 thread {r["isa"],-7}: {r["gflops_cpu"],7:F1} GFLOP/s (CPU time, best of {r["rounds"]})");
    if (!o.Gemm && !o.ModelsGiven && !o.Convs) return 0;
}

if (o.Sparse || o.SparseCrossover || o.SparseSpmv)
{
    if (o.SparseSpmv) foreach (var r in SparseBench.Spmv(o)) Console.WriteLine(o.Json ? JsonSerializer.Serialize(r) : SparseBench.Format(r));
    if (o.SparseCrossover) foreach (var r in SparseBench.Crossover(o)) Console.WriteLine(o.Json ? JsonSerializer.Serialize(r) : SparseBench.Format(r));
    if (o.Sparse) foreach (var r in SparseBench.Models(o)) Console.WriteLine(o.Json ? JsonSerializer.Serialize(r) : SparseBench.Format(r));
    return 0;
}

if (o.Gemm)
{
    foreach (var (n, gflops) in GemmBench.Run(o.GemmSizes, o.Threads))
        Console.WriteLine(o.Json
            ? JsonSerializer.Serialize(new Dictionary<string, object>
                { ["impl"] = "sharpprune", ["gemm_n"] = n, ["threads"] = o.Threads, ["gflops"] = Math.Round(gflops, 2),
                    ["isa"] = KernelIsa.ProcessCap.ToString() })
            : $"Sgemm n={n,5}: {gflops,8:F2} GFLOP/s ({o.Threads} threads)");
    if (!o.ModelsGiven && !o.Convs) return 0;
}

if (o.Convs)
{
    foreach (var r in ConvBench.Run(o.Threads))
        Console.WriteLine(o.Json ? JsonSerializer.Serialize(r)
            : $"{r["conv"],-18} fwd {r["fwd_ms"],9:F2} ms {r["fwd_gflops"],6:F1} GFLOP/s   fwd+bwd {r["fwd_bwd_ms"],9:F2} ms {r["fwd_bwd_gflops"],6:F1} GFLOP/s   (kernels: fwd {r["fwd_kernel_ms"],7:F2} ms, bwd input {r["bwd_input_ms"],7:F2} ms, weight {r["bwd_weight_ms"],7:F2} ms)");
    if (!o.ModelsGiven) return 0;
}

var rows = new List<JsonElement>();
int failed = 0;
foreach (var model in o.Models)
{
    var (rc, line) = RunChild(o.ChildArgs(model));
    if (rc != 0 || line is null)
    {
        Console.Error.WriteLine($"SharpPrune.Bench: {model} failed (exit code {rc})");
        failed++;
        continue;
    }
    if (o.Json) Console.WriteLine(line);
    rows.Add(JsonDocument.Parse(line).RootElement);
    if (!o.Ort) continue;
    string onnx = OrtBench.Export(model);
    try
    {
        var (orc, oline) = RunChild([.. o.ChildArgs(model), "--ort-file", onnx]);
        if (orc != 0 || oline is null) { Console.Error.WriteLine($"SharpPrune.Bench: {model} in ONNX Runtime failed (exit code {orc})"); failed++; continue; }
        if (o.Json) Console.WriteLine(oline);
        else Console.WriteLine($"{model}: ONNX Runtime {JsonDocument.Parse(oline).RootElement.GetProperty("infer_img_s").GetDouble():F1} img/s (our exported graph)");
    }
    finally { File.Delete(onnx); }
}
if (!o.Json) PrintTable(rows);
return failed == 0 ? 0 : 1;

// Re-invokes this program; under `dotnet x.dll` the process path is the dotnet host, so pass the dll too.
static (int rc, string? lastLine) RunChild(List<string> childArgs)
{
    string exe = Environment.ProcessPath ?? throw new InvalidOperationException("cannot locate own executable");
    var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, UseShellExecute = false };
    if (Path.GetFileNameWithoutExtension(exe) == "dotnet")
        psi.ArgumentList.Add(typeof(ModelBench).Assembly.Location);
    foreach (var a in childArgs) psi.ArgumentList.Add(a);
    using var p = Process.Start(psi)!;
    string? last = null;
    while (p.StandardOutput.ReadLine() is { } l)
        if (l.StartsWith('{')) last = l;
    p.WaitForExit();
    return (p.ExitCode, last);
}

static void PrintTable(List<JsonElement> rows)
{
    Console.WriteLine($"{"model",-10} {"batch",5} {"params",10} {"train img/s",12} {"ms/step",9} {"infer img/s",12} {"ms/batch",9} {"peak MB",8} {"alloc MB/step",14}");
    foreach (var r in rows)
        Console.WriteLine($"{r.GetProperty("model").GetString(),-10} {r.GetProperty("batch").GetInt32(),5} " +
            $"{r.GetProperty("params").GetInt64(),10} {r.GetProperty("train_img_s").GetDouble(),12:F1} " +
            $"{r.GetProperty("train_ms_per_step").GetDouble(),9:F1} {r.GetProperty("infer_img_s").GetDouble(),12:F1} " +
            $"{r.GetProperty("infer_ms_per_batch").GetDouble(),9:F1} {r.GetProperty("peak_rss_mb").GetDouble(),8:F1} " +
            $"{r.GetProperty("alloc_mb_per_step").GetDouble(),14:F1}");
}
