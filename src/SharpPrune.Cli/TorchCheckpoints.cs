using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.IO.Torch;
using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli;

/// <summary>PyTorch checkpoints (.pt/.pth/.pth.tar) where the CLI takes a checkpoint: no metadata, so --model names the architecture.</summary>
internal static class TorchCheckpoints
{
    /// <summary>A PyTorch file by its name (.pt, .pth, .pth.tar, .tar) or, whatever its name, by its first bytes.</summary>
    public static bool IsTorchFile(string path) =>
        new[] { ".pt", ".pth", ".tar" }.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase)) || TorchCheckpoint.LooksLikeTorch(path);

    public static CheckpointData ToCheckpointData(string path)
    {
        var file = TorchCheckpoint.Load(path);
        return new CheckpointData { Model = file.StateDict, Metadata = file.Metadata, SourceName = path };
    }

    /// <summary>
    /// A VGG built from the checkpoint's <c>cfg</c> (channel widths, 'M' for max-pool: how the channel-pruning
    /// repositories save a slimmed VGG), or null when the model is not a VGG or the checkpoint has no cfg.
    /// </summary>
    public static Module? CreateWithCfg(string model, int numClasses, CheckpointData ckpt)
    {
        if (ckpt.Get("cfg") is not { } json || !ModelZoo.Canonical(model).StartsWith("vgg", StringComparison.Ordinal)) return null;
        var cfg = new List<int>();
        try
        {
            foreach (var e in JsonDocument.Parse(json).RootElement.EnumerateArray())
                cfg.Add(e.ValueKind == JsonValueKind.String && e.GetString() == "M" ? 0 : e.GetInt32());
            return new Vgg(cfg, numClasses, new Generator(0));
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or ArgumentException)
        {
            throw new CliException($"{ckpt.SourceName}: cfg {json} is not a VGG configuration (channel widths and 'M'): {e.Message}", e);
        }
    }
}
