using SharpPrune.Vision.Data;
using SharpPrune.Vision.Models;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli;

internal static class DataSets
{
    /// <summary>Canonical dataset name ("CIFAR-10" → "cifar10"); unknown names list the valid ones.</summary>
    public static DatasetInfo Info(string name)
    {
        try { return Datasets.Info(name); }
        catch (ArgumentException e) { throw new CliUsageException(ErrorMessages.OneLine(e)); }
    }

    /// <summary>Train and test splits of <paramref name="source"/>; checks that the model (<paramref name="model"/>, for
    /// messages) takes <paramref name="want"/> (C, H, W) samples, the dataset's shape.</summary>
    public static (ImageDataset Train, ImageDataset Test) Load(DataSource source, int[] want, string model)
    {
        CheckShape(source.Dataset, want, model);
        return Datasets.Load(source);
    }

    /// <summary>A usage error unless <paramref name="model"/> (a zoo name) takes images of <paramref name="dataset"/>'s shape.</summary>
    public static void CheckShape(string dataset, string model) => CheckShape(dataset, ModelZoo.InputShape(model), ModelZoo.Canonical(model));

    /// <summary>A usage error unless samples of shape <paramref name="want"/> are <paramref name="dataset"/>'s images.</summary>
    public static void CheckShape(string dataset, int[] want, string model)
    {
        var info = Info(dataset);
        if (want[0] != info.Channels || want[1] != info.Height || want[2] != info.Width)
            throw new CliUsageException(
                $"{model} takes {want[0]}x{want[1]}x{want[2]} images but {info.Name} has {info.Channels}x{info.Height}x{info.Width}; " +
                $"use a model for {info.Name} (e.g. {(info.Channels == 1 ? "lenet5" : "vgg16")})");
    }

    /// <summary>The data to evaluate a loaded checkpoint on: <paramref name="dataDirOption"/> when given, else what its run recorded.</summary>
    public static DataSource ForCheckpoint(CliContext ctx, LoadedModel loaded, string dataset, string? dataDirOption, string path) =>
        dataDirOption is string dir ? Resolve(dataset, dir)
        : loaded.RecordedConfig(dataset) is { } trained ? ForRecorded(ctx, trained, null, path, mustMatch: false)
        : Resolve(dataset, null);

    /// <summary>The files <paramref name="dataDir"/> (or, without it, the default location) holds for <paramref name="dataset"/>.</summary>
    public static DataSource Resolve(string dataset, string? dataDir) => Datasets.Resolve(Info(dataset).Name, dataDir);

    /// <summary>
    /// The data the run that wrote <paramref name="what"/> (a checkpoint path) used, per its configuration: reused, so an
    /// evaluation or resumed run reads the same images even after the full Fashion-MNIST is installed, or a clear
    /// refusal when it is not on this machine. An explicit <paramref name="dataDirOption"/> wins; with
    /// <paramref name="mustMatch"/> (resume) it must hold the same kind of data (sample or the full files).
    /// </summary>
    public static DataSource ForRecorded(CliContext ctx, TrainConfig cfg, string? dataDirOption, string what, bool mustMatch)
    {
        var recorded = cfg.RecordedData();
        if (dataDirOption is not null)
        {
            var chosen = Resolve(cfg.Dataset, dataDirOption);
            if (mustMatch && recorded is not null && recorded.IsSample != chosen.IsSample)
                throw new CliUsageException($"{what} trained on {Describe(recorded)} but --data-dir {dataDirOption} holds {Describe(chosen)}; a resumed run keeps its data");
            return chosen;
        }
        if (recorded is null)
        {
            var guess = Resolve(cfg.Dataset, cfg.DataDir);
            if (cfg.DataDir is null)
                ctx.Err.WriteLine($"note: {what} does not record which {cfg.Dataset} files it was trained on; using {Describe(guess)} (--data-dir chooses)");
            return guess;
        }
        if (recorded.IsSample)
        {
            if (Directory.Exists(recorded.Directory)) return recorded;
            return Datasets.SampleDirectory is string here
                ? recorded with { Directory = here }
                : throw new CliException($"{what} was trained on the shipped Fashion-MNIST sample (data/{Datasets.SampleFolder}), which is not found here; pass --data-dir pointing at it");
        }
        if (!Directory.Exists(recorded.Directory))
            throw new CliException($"{what} was trained on {Describe(recorded)}, which does not exist here; pass --data-dir with the same files");
        return recorded;
    }

    public static string Describe(DataSource s) => s.IsSample
        ? $"the shipped Fashion-MNIST sample ({Datasets.SampleTrainCount:N0} training images, in {s.Directory})"
        : $"the {s.Dataset} files in {s.Directory}";
}
