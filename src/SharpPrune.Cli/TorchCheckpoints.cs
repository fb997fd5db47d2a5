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
    /// A VGG as the checkpoint holds it, when the zoo's VGG of that name would not load it: a <c>cfg</c> (channel widths,
    /// 'M' for max-pool: how the channel-pruning repositories save a slimmed VGG), network-slimming's names or its
    /// single-Linear classifier (see <see cref="VggCheckpoints"/>); null for other models and plain zoo VGGs.
    /// </summary>
    public static Module? CreateVgg(string model, int numClasses, CheckpointData ckpt)
    {
        string name = ModelZoo.Canonical(model);
        if (!name.StartsWith("vgg", StringComparison.Ordinal) || !ModelZoo.Contains(name) || !VggCheckpoints.Applies(ckpt)) return null;
        try { return VggCheckpoints.Create(int.Parse(name[3..], System.Globalization.CultureInfo.InvariantCulture), numClasses, ckpt); }
        catch (InvalidDataException e) { throw new CliException(ErrorMessages.OneLine(e), e); }
    }
}
