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

    /// <summary>A graph imported from ONNX (no zoo architecture behind it): its checkpoints record its structure
    /// under <see cref="GraphSpec.MetadataKey"/> instead of a zoo name's layer widths.</summary>
    public bool IsGraph => Model is OnnxGraphModule;

    /// <summary>Name of the model in messages and the <c>model</c> metadata of an imported graph.</summary>
    public const string GraphModelName = "onnx";

    /// <summary>
    /// The metadata that rebuilds the model's structure as it is now: an imported graph's description, or a zoo
    /// model's layer widths (a shrink's narrower layers).
    /// </summary>
    public KeyValuePair<string, string> StructureMetadata() => Model is OnnxGraphModule g
        ? new(GraphSpec.MetadataKey, g.Describe().ToJson())
        : new(ModelArchitecture.MetadataKey, ModelArchitecture.Describe(Model));

    public bool IsPruned => Checkpoint.Model.Any(kv => kv.Key.EndsWith("_mask", StringComparison.Ordinal));

    /// <summary>
    /// The training configuration the checkpoint recorded, when it trained on <paramref name="dataset"/>: its data
    /// (see <see cref="DataSets.ForRecorded"/>) keeps an evaluation on the run's own test split.
    /// </summary>
    public TrainConfig? RecordedConfig(string dataset)
    {
        if (Checkpoint.Get(CheckpointKeys.Config) is not { } json) return null;
        var cfg = TrainConfig.FromJson(json, Checkpoint.SourceName);
        return cfg.Dataset == dataset ? cfg : null;
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
        RequireRegular(path);
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

    /// <summary>Refuses a FIFO or device before any reader opens (and blocks on) it: sniffing the format reads it too.</summary>
    private static void RequireRegular(string path)
    {
        try { InputFile.RequireRegular(path, "a checkpoint file"); }
        catch (InvalidDataException e) { throw new CliException($"'{path}' is not a valid checkpoint: {ErrorMessages.OneLine(e)}", e); }
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
        if (path.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase))
        {
            if (File.Exists(path)) RequireRegular(path);
            return LoadOnnx(path);
        }
        var ckpt = ReadCheckpoint(path);
        if (ckpt.Get(GraphSpec.MetadataKey) is not null) return LoadGraph(ckpt, path, modelOverride, numClassesOverride);
        string model = modelOverride ?? ckpt.Get(CheckpointKeys.Model)
            ?? throw new CliException($"{path} does not say which model it holds (no '{CheckpointKeys.Model}' metadata); pass --model ({string.Join(", ", ModelZoo.Names)})");
        int numClasses;
        if (numClassesOverride is int given) numClasses = CheckNumClasses(ckpt, path, given, "--num-classes");
        else if (ckpt.Get(CheckpointKeys.NumClasses) is not null)
            numClasses = CheckNumClasses(ckpt, path, CheckpointKeys.ParseInt(ckpt, CheckpointKeys.NumClasses), $"its metadata '{CheckpointKeys.NumClasses}'");
        else numClasses = InferNumClasses(ckpt, path);
        var module = TorchCheckpoints.CreateVgg(model, numClasses, ckpt)
            ?? (modelOverride is null ? CreateRecorded(model, numClasses, seed: 0, path) : Create(model, numClasses, seed: 0));
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
            return new LoadedModel(model, new CheckpointData { SourceName = path }, LoadedModel.GraphModelName, null, OutputWidth(model), model.InputShape.ToArray());
        }
        catch (OnnxFormatException e) { throw new CliException(ErrorMessages.OneLine(e), e); }
    }

    /// <summary>
    /// A checkpoint of a model imported from ONNX (then pruned, shrunk, trained…): the graph its metadata describes,
    /// with layer shapes from its state dict, then the state dict (and masks) loaded as for a zoo model.
    /// </summary>
    private static LoadedModel LoadGraph(CheckpointData ckpt, string path, string? modelOverride, int? numClassesOverride)
    {
        if (modelOverride is not null)
            throw new CliUsageException($"{path} holds a model imported from ONNX (described by its '{GraphSpec.MetadataKey}' metadata); leave out --model");
        OnnxGraphModule model;
        try { model = GraphCheckpoint.Load(ckpt); }
        catch (InvalidDataException e) { throw new CliException($"{path}: its imported graph cannot be rebuilt: {ErrorMessages.OneLine(e)}", e); }
        int numClasses = OutputWidth(model);
        if (numClassesOverride is int given && given != numClasses)
            throw new CliException($"{path}: --num-classes {given}, but its graph has {numClasses} outputs");
        return new LoadedModel(model, ckpt, LoadedModel.GraphModelName, ckpt.Get(CheckpointKeys.Dataset), numClasses, model.InputShape.ToArray());
    }

    /// <summary>
    /// The model a checkpoint's graph description (<see cref="GraphSpec"/>) gives, with the layer shapes of its state
    /// dict and fresh parameters (the caller loads the state dict, or resumes a run into it).
    /// </summary>
    public static OnnxGraphModule BuildGraph(CheckpointData ckpt, string path)
    {
        try { return GraphCheckpoint.Build(ckpt); }
        catch (InvalidDataException e) { throw new CliException($"{path}: its imported graph cannot be rebuilt: {ErrorMessages.OneLine(e)}", e); }
    }

    /// <summary>The class count of an imported graph: the width of its output on one zero sample.</summary>
    private static int OutputWidth(OnnxGraphModule model)
    {
        bool training = model.Training;
        model.Eval();
        try
        {
            using (SharpPrune.Autograd.GradMode.NoGrad())
            {
                var y = model.Forward(Tensor.Zeros([1, .. model.InputShape]));
                return y.Dim == 2 ? y.Size(1) : throw new CliException($"the imported graph's output has shape {Shapes.Format(y.Shape)}; SharpPrune trains and evaluates (N, classes) outputs");
            }
        }
        finally { model.Train(training); }
    }

    /// <summary>A freshly initialised zoo model; unknown names list the valid ones.</summary>
    public static Module Create(string model, int numClasses, ulong seed)
    {
        if (!ModelZoo.Contains(model))
            throw new CliUsageException($"unknown model '{model}'; valid: {string.Join(", ", ModelZoo.Names)}");
        return ModelZoo.Create(model, numClasses, new Generator(seed));
    }

    /// <summary>A zoo model named by a checkpoint: an unknown name is a problem of the file (exit 1), not of the command line.</summary>
    public static Module CreateRecorded(string model, int numClasses, ulong seed, string path)
    {
        if (!ModelZoo.Contains(model))
            throw new CliException($"{path} holds a model named '{MessageText.Name(model)}', which is not in the zoo ({string.Join(", ", ModelZoo.Names)}); pass --model to choose the architecture");
        return Create(model, numClasses, seed);
    }

    /// <summary>
    /// Checks a class count (from metadata or an option) against the classifier tensor before a model is built, so a
    /// small file whose metadata says 25,000,000 classes fails at once instead of allocating gigabytes for the classifier.
    /// </summary>
    public static int CheckNumClasses(CheckpointData ckpt, string path, int numClasses, string source)
    {
        var (key, rows) = Classifier(ckpt);
        // No plain classifier matrix (e.g. a quantized checkpoint stores it otherwise): nothing to check against here.
        if (key is not null && numClasses != rows)
            throw new CliException($"{path}: {source} says {numClasses} classes but its classifier weight '{MessageText.Name(key)}' has {rows} rows");
        return numClasses;
    }

    private static (string? Key, int Rows) Classifier(CheckpointData ckpt)
    {
        var last = ckpt.Model.LastOrDefault(kv => kv.Value.Dim == 2 && (kv.Key.EndsWith(".weight") || kv.Key.EndsWith(".weight_orig")));
        return last.Value is null ? (null, 0) : (last.Key, last.Value.Size(0));
    }

    /// <summary>Without metadata, the class count is the row count of the last 2-D weight (the classifier).</summary>
    private static int InferNumClasses(CheckpointData ckpt, string path)
    {
        var (key, rows) = Classifier(ckpt);
        return key is not null ? rows : throw new CliException($"{path}: cannot tell the number of classes; pass --num-classes");
    }
}
