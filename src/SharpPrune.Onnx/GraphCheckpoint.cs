using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;

namespace SharpPrune.Onnx;

/// <summary>
/// Checkpoints of models imported from ONNX: the state dict as for any model, plus the graph's structure
/// (<see cref="GraphSpec"/>) under the metadata key <see cref="GraphSpec.MetadataKey"/>, so an imported model that was
/// pruned (masks kept as <c>X_orig</c>/<c>X_mask</c>), shrunk, quantized or fine-tuned loads back as the same model.
/// The CLI writes and reads them the same way (<c>prune/train/shrink --load model.onnx</c>, then <c>--load</c> of the result).
/// <code>
/// var model = OnnxImporter.Load("model.onnx");
/// Prune.L1Unstructured(model.GetSubmodule("conv1"), "weight", 0.5);
/// GraphCheckpoint.Save("pruned.safetensors", model);
/// var back = GraphCheckpoint.Load("pruned.safetensors");
/// </code>
/// </summary>
public static class GraphCheckpoint
{
    /// <summary>Saves weights (and masks) and the graph description, with <paramref name="metadata"/> beside them.</summary>
    public static void Save(string path, OnnxGraphModule model, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var meta = metadata?.ToDictionary(kv => kv.Key, kv => kv.Value) ?? new Dictionary<string, string>();
        meta[GraphSpec.MetadataKey] = model.Describe().ToJson();
        Checkpoint.Save(path, model, null, null, meta);
    }

    public static OnnxGraphModule Load(string path) => Load(Checkpoint.Load(path));

    /// <summary>The model <paramref name="checkpoint"/> holds, weights and pruning masks loaded (strict: every key must fit).</summary>
    public static OnnxGraphModule Load(CheckpointData checkpoint)
    {
        var model = Build(checkpoint);
        try { PrunedStateDict.Load(model, checkpoint.Model, strict: true); }
        catch (Exception e) when (e is StateDictException or ArgumentException or KeyNotFoundException)
        {
            throw new InvalidDataException($"{checkpoint.SourceName}: the state dict does not fit its graph: {e.Message}", e);
        }
        return model;
    }

    /// <summary>
    /// The model <paramref name="checkpoint"/>'s graph description gives, with fresh parameters shaped as its state dict's
    /// tensors (for a caller that loads them itself, e.g. to resume training). Throws <see cref="InvalidDataException"/>
    /// when there is no description or it does not fit the tensors.
    /// </summary>
    public static OnnxGraphModule Build(CheckpointData checkpoint)
    {
        string json = checkpoint.Get(GraphSpec.MetadataKey)
            ?? throw new InvalidDataException($"{checkpoint.SourceName} has no '{GraphSpec.MetadataKey}' metadata: it does not hold a model imported from ONNX");
        var tensors = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (k, v) in checkpoint.Model) tensors.TryAdd(k, v);
        // A pruned tensor is stored as X_orig (and X_mask), a quantized one as a codebook and indices of X's shape.
        int[]? Shape(string name) =>
            (tensors.GetValueOrDefault(name) ?? tensors.GetValueOrDefault(name + "_orig")
                ?? tensors.GetValueOrDefault(name + SharedWeight.IndicesSuffix))?.ShapeCopy();
        return OnnxGraphModule.FromSpec(GraphSpec.FromJson(json, checkpoint.SourceName), Shape, checkpoint.SourceName);
    }
}
