using SharpPrune.IO;
using SharpPrune.IO.Torch;
using SharpPrune.NN;
using SharpPrune.Onnx;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Compression;
using SharpPrune.Vision.Models;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli;

/// <summary>A model rebuilt from a checkpoint: architecture from its metadata, weights (and pruning masks) loaded.</summary>
internal sealed record LoadedModel(Module Model, CheckpointData Checkpoint, string ModelName, string? Dataset, int NumClasses, int[]? Input = null)
{
    /// <summary>The sample shape (C, H, W): the zoo's for its models, the graph's for an imported ONNX file.</summary>
    public int[] InputShape => Input ?? ModelZoo.InputShape(ModelName);

    /// <summary>An ONNX graph imported as is (no zoo architecture behind it).</summary>
    public bool IsOnnx => Model is OnnxGraphModule;

    public bool IsPruned => Checkpoint.Model.Any(kv => kv.Key.EndsWith("_mask", StringComparison.Ordinal));

    /// <summary>
    /// The data folder the checkpoint's training run read <paramref name="dataset"/> from, if it recorded one. Using it
    /// by default keeps the evaluation on the run's own test split (the shipped sample's last 2,000 images, not the
    /// full set's test images, 8,000 of which the sample trains on).
    /// </summary>
    public string? RecordedDataDir(string dataset)
    {
        if (Checkpoint.Get(CheckpointKeys.Config) is not { } json) return null;
        var cfg = TrainConfig.FromJson(json, Checkpoint.SourceName);
        return cfg.Dataset == dataset ? cfg.DataDir : null;
    }
}

internal static class ModelLoader
{
    /// <summary>Reads a checkpoint file, with a one-line error when it is missing or not a checkpoint.</summary>
    public static CheckpointData ReadCheckpoint(string path)
    {
        if (Directory.Exists(path))
            throw new CliException($"'{path}' is a directory; pass a checkpoint file such as {Path.Combine(path, CheckpointKeys.LastFile)}");
        if (!File.Exists(path)) throw new CliException($"checkpoint '{path}' does not exist");
        if (IsSpz(path))
        {
            var spz = ReadSpz(path);
            return new CheckpointData { Model = [.. spz.StateDict], Metadata = new(spz.Metadata), SourceName = path };
        }
        try
        {
            return TorchCheckpoints.IsTorchFile(path) ? TorchCheckpoints.ToCheckpointData(path) : Checkpoint.Load(path);
        }
        catch (Exception e) when (e is SafeTensorsFormatException or TorchFormatException or InvalidDataException or FormatException or EndOfStreamException or System.Text.Json.JsonException)
        {
            throw new CliException($"'{path}' is not a valid checkpoint: {ErrorMessages.OneLine(e)}", e);
        }
    }

    /// <summary>True when <paramref name="path"/> is a compressed model (.spz magic), whatever its extension.</summary>
    public static bool IsSpz(string path)
    {
        Span<byte> head = stackalloc byte[8];
        using var f = File.OpenRead(path);
        return f.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) == head.Length && SpzFile.HasMagic(head);
    }

    /// <summary>Reads a .spz file, with a one-line error when it is corrupt.</summary>
    public static SpzContents ReadSpz(string path)
    {
        try { return SpzFile.ReadFile(path); }
        catch (InvalidDataException e) // the reader's message starts with the path: say it once
        { throw new CliException($"'{path}' is not a valid .spz file: {ErrorMessages.OneLine(e.InnerException as InvalidDataException ?? e)}", e); }
    }

    /// <summary>
    /// Rebuilds the model a checkpoint was saved from. The architecture and class count come from its metadata
    /// (or <paramref name="modelOverride"/>/<paramref name="numClassesOverride"/> for files without them, e.g.
    /// converted from PyTorch); a pruned state dict (<c>X_orig</c>/<c>X_mask</c> keys) is loaded by first pruning the
    /// fresh model the same way, so its masks keep working.
    /// </summary>
    public static LoadedModel Load(string path, string? modelOverride = null, int? numClassesOverride = null)
    {
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return LoadOnnx(path);
        var ckpt = ReadCheckpoint(path);
        string model = modelOverride ?? ckpt.Get(CheckpointKeys.Model)
            ?? throw new CliException($"{path} does not say which model it holds (no '{CheckpointKeys.Model}' metadata); pass --model ({string.Join(", ", ModelZoo.Names)})");
        int numClasses = numClassesOverride
            ?? (ckpt.Get(CheckpointKeys.NumClasses) is not null ? CheckpointKeys.ParseInt(ckpt, CheckpointKeys.NumClasses) : InferNumClasses(ckpt, path));
        var module = TorchCheckpoints.CreateWithCfg(model, numClasses, ckpt) ?? Create(model, numClasses, seed: 0);
        try
        {
            if (ckpt.Get(ModelArchitecture.MetadataKey) is { } architecture)
                ModelArchitecture.Apply(module, architecture, path); // a structured-pruned (shrunk) model's layer widths
            PrunedStateDict.Load(module, ckpt.Model, strict: true);
        }
        catch (Exception e) when (e is StateDictException or ArgumentException or KeyNotFoundException or InvalidDataException)
        {
            throw new CliException($"{path} does not fit a {ModelZoo.Canonical(model)} with {numClasses} classes: {ErrorMessages.OneLine(e)}", e);
        }
        return new LoadedModel(module, ckpt, ModelZoo.Canonical(model), ckpt.Get(CheckpointKeys.Dataset), numClasses);
    }

    /// <summary>An ONNX file as a module of our layers; its class count is the width of its output.</summary>
    private static LoadedModel LoadOnnx(string path)
    {
        if (!File.Exists(path)) throw new CliException($"ONNX file '{path}' does not exist");
        try
        {
            var model = OnnxImporter.Load(path);
            int numClasses;
            using (SharpPrune.Autograd.GradMode.NoGrad())
                numClasses = model.Forward(Tensor.Zeros(new[] { 1 }.Concat(model.InputShape).ToArray())).Size(1);
            return new LoadedModel(model, new CheckpointData { SourceName = path }, "onnx", null, numClasses, model.InputShape.ToArray());
        }
        catch (OnnxFormatException e) { throw new CliException(ErrorMessages.OneLine(e), e); }
    }

    /// <summary>Commands that save a SharpPrune checkpoint need a zoo architecture to rebuild it from.</summary>
    public static void RequireZooModel(LoadedModel loaded, string command)
    {
        if (loaded.IsOnnx)
            throw new CliUsageException($"{command} from an ONNX file is not supported on the command line (its checkpoints must name a zoo model); use the library: OnnxImporter.Load, then prune/train and OnnxExporter.Save");
    }

    /// <summary>A freshly initialised zoo model; unknown names list the valid ones.</summary>
    public static Module Create(string model, int numClasses, ulong seed)
    {
        if (!ModelZoo.Contains(model))
            throw new CliUsageException($"unknown model '{model}'; valid: {string.Join(", ", ModelZoo.Names)}");
        return ModelZoo.Create(model, numClasses, new Generator(seed));
    }

    /// <summary>Without metadata, the class count is the row count of the last 2-D weight (the classifier).</summary>
    private static int InferNumClasses(CheckpointData ckpt, string path)
    {
        var last = ckpt.Model.LastOrDefault(kv => kv.Value.Dim == 2 && (kv.Key.EndsWith(".weight") || kv.Key.EndsWith(".weight_orig")));
        return last.Value?.Size(0) ?? throw new CliException($"{path}: cannot tell the number of classes; pass --num-classes");
    }
}
