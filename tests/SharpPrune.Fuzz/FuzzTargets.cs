using System.Buffers.Binary;
using System.IO.Compression;
using SharpPrune.Cli;
using SharpPrune.IO;
using SharpPrune.IO.Torch;
using SharpPrune.Onnx;
using SharpPrune.Pruning.Compression;
using SharpPrune.Pruning;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Models;

namespace SharpPrune.Fuzz;

/// <summary>
/// The readers under fuzz. To add one: add a <see cref="FuzzTarget"/> to
/// <see cref="All"/> with a few valid seed files and a Read that parses bytes the way a user's file reaches it.
/// </summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new("safetensors", SafeTensorsSeeds, (b, _) => { SafeTensors.Deserialize(b, "fuzz.safetensors"); return null; },
            (m, b) => m.MutateSafeTensors(b)),
        new("checkpoint", CheckpointSeeds, ReportCheckpoint, (m, b) => m.MutateSafeTensors(b)),
        new("idx-images", () => [IdxImages(3, 4, 3)], (b, dir) => LoadMnist(dir, images: b)),
        new("idx-labels", () => [IdxLabels([9, 8, 7])], (b, dir) => LoadMnist(dir, labels: b)),
        new("idx-images-gz", () => [Gzip(IdxImages(3, 4, 3))], (b, dir) => LoadMnist(dir, images: b, gz: true), MutateGzip),
        new("cifar10", () => [Cifar(2, 1)], (b, dir) => LoadCifar(dir, b, coarse: false)),
        new("cifar100", () => [Cifar(2, 2)], (b, dir) => LoadCifar(dir, b, coarse: true)),
        new("spz", SpzSeeds, (b, _) => { SpzFile.Read(b, "fuzz.spz"); return null; }),
        new("pt", TorchSeeds, (b, _) => { TorchCheckpoint.Read(new MemoryStream(b), "fuzz.pt"); return null; }),
        new("pt-legacy", LegacyTorchSeeds, (b, _) => { TorchCheckpoint.Read(new MemoryStream(b), "fuzz.pt"); return null; }),
        new("onnx", OnnxSeeds, (b, _) => { OnnxImporter.Read(b, "fuzz.onnx"); return null; }),
    ];

    public static FuzzTarget Get(string name) => All.FirstOrDefault(t => t.Name == name)
        ?? throw new ArgumentException($"unknown fuzz target '{name}'; valid: {string.Join(", ", All.Select(t => t.Name))}");

    // ---- safetensors

    private static IReadOnlyList<byte[]> SafeTensorsSeeds()
    {
        var g = new Generator(5);
        var seeds = new List<byte[]>
        {
            SafeTensors.Serialize(
                [new("a", Tensor.Randn(g, 2, 3)), new("b.weight", Tensor.Randn(g, 4)), new("scalar", Tensor.Randn(g)), new("empty", Tensor.Zeros(0, 3))],
                new Dictionary<string, string> { ["model"] = "lenet5", ["note"] = "seed" }),
            SafeTensors.Serialize([new("x", Tensor.Randn(g, 1, 2, 2, 2))]),
        };
        // Every dtype, as Python's safetensors writes them.
        if (RepoFile("tests/fixtures/io/dtypes.safetensors") is string dtypes) seeds.Add(File.ReadAllBytes(dtypes));
        return seeds;
    }

    // ---- the compressed model format (.spz), PyTorch checkpoints (.pt) and ONNX graphs

    /// <summary>A pruned (80%), weight-shared LeNet-5 as .spz: relative indices, Huffman tables, codebooks, dense biases.</summary>
    private static IReadOnlyList<byte[]> SpzSeeds()
    {
        var model = ModelZoo.Create("lenet5", 10, new Generator(2));
        var weights = model.NamedModules().Where(m => m.Module is SharpPrune.NN.Conv2d or SharpPrune.NN.Linear).Select(m => (m.Module, "weight"));
        Prune.GlobalUnstructured(weights, GlobalPruningMethod.L1Unstructured, 0.8);
        WeightSharing.ApplyToModel(model, (name, layer) => WeightSharing.DefaultBits(name, layer));
        var meta = new Dictionary<string, string> { ["model"] = "lenet5", ["num_classes"] = "10" };
        return [SpzFile.Encode(model.StateDict(), meta).Bytes];
    }

    /// <summary>PyTorch's legacy (pre-1.6, non-zip) torch.save files: every dtype and views; a checkpoint dict with optimizer state.</summary>
    private static IReadOnlyList<byte[]> LegacyTorchSeeds() =>
        new[] { "dtypes_legacy.pt", "lenet5_legacy.pth.tar" }.Select(f => RepoFile("tests/fixtures/interop/" + f)).OfType<string>().Select(File.ReadAllBytes).ToList();

    /// <summary>Our own torch.save-format writer's output and PyTorch's own files (every dtype, DataParallel dicts, pruned).</summary>
    private static IReadOnlyList<byte[]> TorchSeeds()
    {
        string path = Path.Combine(Path.GetTempPath(), "sharpprune-fuzz-seed-" + Guid.NewGuid().ToString("N") + ".pt");
        try
        {
            TorchCheckpoint.Save(path, ModelZoo.Create("lenet5", 10, new Generator(3)).StateDict());
            var seeds = new List<byte[]> { File.ReadAllBytes(path) };
            foreach (var f in new[] { "dtypes.pt", "lenet5_dataparallel.pth.tar", "lenet5_pruned.pth" })
                if (RepoFile("tests/fixtures/interop/" + f) is string fixture) seeds.Add(File.ReadAllBytes(fixture));
            return seeds;
        }
        finally { File.Delete(path); }
    }

    /// <summary>Our export of LeNet-5 and PyTorch's torch.onnx.export of it.</summary>
    private static IReadOnlyList<byte[]> OnnxSeeds()
    {
        var seeds = new List<byte[]> { OnnxExporter.Serialize(ModelZoo.Create("lenet5", 10, new Generator(4)), [1, 28, 28]) };
        if (RepoFile("tests/fixtures/interop/lenet5.onnx") is string fixture) seeds.Add(File.ReadAllBytes(fixture));
        return seeds;
    }

    // ---- checkpoints, read as a user does: sharpprune report --load

    private static IReadOnlyList<byte[]> CheckpointSeeds()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpprune-fuzz-seeds-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            var meta = new Dictionary<string, string> { ["model"] = "lenet5", ["dataset"] = "fashion-mnist", ["num_classes"] = "10", ["epoch"] = "1" };
            var model = ModelZoo.Create("lenet5", 10, new Generator(1));
            string dense = Path.Combine(dir, "dense.safetensors"), pruned = Path.Combine(dir, "pruned.safetensors");
            Checkpoint.Save(dense, model, null, null, meta);
            Prune.L1Unstructured(model.GetSubmodule("conv1"), "weight", 0.5);
            Prune.LnStructured(model.GetSubmodule("fc1"), "weight", 0.25, 2, 0);
            Checkpoint.Save(pruned, model, null, null, meta);
            // A model imported from ONNX, pruned: its structure is the 'graph' metadata (a JSON graph description).
            string graph = Path.Combine(dir, "graph.safetensors");
            var imported = OnnxImporter.Read(OnnxExporter.Serialize(ModelZoo.Create("lenet5", 10, new Generator(4)), [1, 28, 28]), "lenet5.onnx");
            Prune.L1Unstructured(imported.GetSubmodule("conv2"), "weight", 0.5);
            GraphCheckpoint.Save(graph, imported, new Dictionary<string, string> { ["model"] = "onnx", ["dataset"] = "fashion-mnist" });
            return [File.ReadAllBytes(dense), File.ReadAllBytes(pruned), File.ReadAllBytes(graph)];
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    private static Outcome? ReportCheckpoint(byte[] bytes, string dir)
    {
        string path = Path.Combine(dir, "model.safetensors");
        File.WriteAllBytes(path, bytes);
        var output = new StringWriter();
        var errors = new StringWriter();
        int code = SharpPruneCli.Run(["report", "--load", path, "--json"], output, errors);
        string err = errors.ToString();
        if (code == 0) return Outcome.AcceptedValid;
        if (err.Contains("internal error", StringComparison.Ordinal) || err.TrimEnd().Contains('\n') || err.Length > FuzzRunner.MaxMessage)
            throw new ReaderCrashed($"exit {code}: {err}");
        return Outcome.CleanError;
    }

    // ---- IDX (MNIST, Fashion-MNIST): the test split's file is the input, the others are valid

    private static Outcome? LoadMnist(string dir, byte[]? images = null, byte[]? labels = null, bool gz = false)
    {
        WriteOnce(dir, "train-images-idx3-ubyte", IdxImages(2, 4, 3));
        WriteOnce(dir, "train-labels-idx1-ubyte", IdxLabels([1, 2]));
        if (images is null) WriteOnce(dir, "t10k-images-idx3-ubyte", IdxImages(3, 4, 3));
        else File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte" + (gz ? ".gz" : "")), images);
        if (labels is null) WriteOnce(dir, "t10k-labels-idx1-ubyte", IdxLabels([9, 8, 7]));
        else File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), labels);
        Datasets.Load("mnist", dir);
        return null;
    }

    /// <summary>The valid companion files are the same in every case of a scratch folder: written once.</summary>
    private static void WriteOnce(string dir, string name, byte[] bytes)
    {
        string path = Path.Combine(dir, name);
        if (!File.Exists(path)) File.WriteAllBytes(path, bytes);
    }

    public static byte[] IdxImages(int count, int rows, int cols)
    {
        var b = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(b, 0x803);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), cols);
        for (int i = 16; i < b.Length; i++) b[i] = (byte)(i * 37);
        return b;
    }

    public static byte[] IdxLabels(int[] labels)
    {
        var b = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, 0x801);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), labels.Length);
        for (int i = 0; i < labels.Length; i++) b[8 + i] = (byte)labels[i];
        return b;
    }

    /// <summary>Half the time the compressed bytes, half the time the content (then compressed again).</summary>
    private static byte[] MutateGzip(Mutator m, byte[] gz)
    {
        if (m.Random.Next(2) == 0) return m.Mutate(gz);
        using var input = new GZipStream(new MemoryStream(gz), CompressionMode.Decompress);
        var raw = new MemoryStream();
        input.CopyTo(raw);
        return Gzip(m.Mutate(raw.ToArray()));
    }

    public static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    // ---- CIFAR binary: the test file is the input

    private static Outcome? LoadCifar(string dir, byte[] test, bool coarse)
    {
        if (coarse)
        {
            WriteOnce(dir, "train.bin", Cifar(1, 2));
            File.WriteAllBytes(Path.Combine(dir, "test.bin"), test);
            Datasets.LoadCifar100(dir);
        }
        else
        {
            for (int i = 1; i <= 5; i++) WriteOnce(dir, $"data_batch_{i}.bin", Cifar(1, 1));
            File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), test);
            Datasets.LoadCifar10(dir);
        }
        return null;
    }

    public static byte[] Cifar(int records, int labelBytes)
    {
        int size = labelBytes + 3072;
        var b = new byte[records * size];
        for (int r = 0; r < records; r++)
        {
            for (int k = 0; k < labelBytes; k++) b[r * size + k] = (byte)(3 + r + k);
            for (int i = labelBytes; i < size; i++) b[r * size + i] = (byte)(i * 13 + r);
        }
        return b;
    }

    private static string? RepoFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, relative);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
