using SharpPrune.Vision.Data;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli;

internal static class DataSets
{
    /// <summary>Canonical dataset name ("CIFAR-10" → "cifar10"); unknown names list the valid ones.</summary>
    public static DatasetInfo Info(string name)
    {
        try { return Datasets.Info(name); }
        catch (ArgumentException e) { throw new CliUsageException(ErrorMessages.OneLine(e)); }
    }

    /// <summary>Train and test splits; checks that <paramref name="model"/> takes images of the dataset's shape.</summary>
    public static (ImageDataset Train, ImageDataset Test) Load(string dataset, string? dataDir, string model) =>
        Load(dataset, dataDir, ModelZoo.InputShape(model), ModelZoo.Canonical(model));

    /// <summary>As above, for a model that takes <paramref name="want"/> (C, H, W) samples (an imported ONNX graph).</summary>
    public static (ImageDataset Train, ImageDataset Test) Load(string dataset, string? dataDir, int[] want, string model)
    {
        var info = Info(dataset);
        if (want[0] != info.Channels || want[1] != info.Height || want[2] != info.Width)
            throw new CliUsageException(
                $"{model} takes {want[0]}x{want[1]}x{want[2]} images but {info.Name} has {info.Channels}x{info.Height}x{info.Width}; " +
                $"use a model for {info.Name} (e.g. {(info.Channels == 1 ? "lenet5" : "vgg16")})");
        return Datasets.Load(info.Name, dataDir);
    }
}
