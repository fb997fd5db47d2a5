namespace SharpPrune.Vision.Data;

/// <summary>
/// The files a dataset is read from: <paramref name="Directory"/> (a full path) and whether it is the shipped
/// Fashion-MNIST sample (train = its first 8,000 test images, test = the rest) rather than the dataset's own splits.
/// </summary>
public sealed record DataSource(string Dataset, string Directory, bool IsSample)
{
    public override string ToString() => IsSample ? $"the shipped {Dataset} sample in {Directory}" : $"{Dataset} in {Directory}";
}

/// <summary>
/// Loads the supported datasets from their original binary files: "mnist", "fashion-mnist" (IDX, raw or .gz),
/// "cifar10", "cifar100" (the "binary version" .bin files).
/// </summary>
public static partial class Datasets
{
    /// <summary>Where Debian's dataset-fashion-mnist package installs the full Fashion-MNIST.</summary>
    public const string DebianFashionMnistDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The shipped sample holds only the 10,000 test images: train = the first 8,000, test = the rest.</summary>
    public const int SampleTrainCount = 8000;

    public static IReadOnlyList<string> Names { get; } = DatasetInfo.All.Select(i => i.Name).ToArray();

    public static DatasetInfo Info(string name) => DatasetInfo.Get(name);

    /// <summary>Per-channel mean and standard deviation of the training images (fresh arrays).</summary>
    public static (float[] Mean, float[] Std) MeanStd(string name)
    {
        var info = DatasetInfo.Get(name);
        return ((float[])info.Mean.Clone(), (float[])info.Std.Clone());
    }

    /// <summary>
    /// Loads the train and test splits of <paramref name="name"/> from <paramref name="dataDir"/> (the directory
    /// holding the files, or its parent when they are in the usual subfolder). Without a directory only
    /// Fashion-MNIST loads: from <see cref="DebianFashionMnistDirectory"/> when complete, else from the shipped
    /// sample (<see cref="SampleDirectory"/>), which is split into train = its first 8,000 test images and
    /// test = its last 2,000. Passing the sample's own directory (data/fashion-mnist-sample) gives the same split.
    /// </summary>
    public static (ImageDataset Train, ImageDataset Test) Load(string name, string? dataDir) => Load(Resolve(name, dataDir));

    /// <summary>
    /// Which files <see cref="Load(string, string?)"/> would read for <paramref name="name"/> and <paramref name="dataDir"/>:
    /// the folder (full path) and whether it is the shipped Fashion-MNIST sample. A checkpoint records this so that a
    /// later evaluation or resumed run reads the same images even after the full set is installed.
    /// </summary>
    public static DataSource Resolve(string name, string? dataDir)
    {
        var info = DatasetInfo.Get(name);
        // Fashion-MNIST's files, converted when loaded.
        if (info.Name == DatasetInfo.FashionMnist3x32) return Resolve("fashion-mnist", dataDir) with { Dataset = info.Name };
        if (dataDir is null)
        {
            if (info.Name != "fashion-mnist") throw NoDataDir(info);
            if (DataDirectory.HasAll(DebianFashionMnistDirectory, IdxFiles, allowGz: true))
                return new DataSource(info.Name, DebianFashionMnistDirectory, IsSample: false);
            return SampleDirectory is string sample
                ? new DataSource(info.Name, sample, IsSample: true)
                : throw new FileNotFoundException(
                    $"fashion-mnist: no data directory given, the full set is not installed at {DebianFashionMnistDirectory} " +
                    $"(Debian package dataset-fashion-mnist) and the repository's data/{SampleFolder} was not found; " +
                    $"pass --data-dir with {string.Join(", ", IdxFiles)} (raw or .gz)");
        }
        bool sampleLayout = info.Name == "fashion-mnist" && IsSampleDirectory(dataDir) && !DataDirectory.HasAll(dataDir, IdxFiles, allowGz: true);
        return new DataSource(info.Name, Path.GetFullPath(dataDir), sampleLayout);
    }

    /// <summary>Loads the train and test splits from a resolved <paramref name="source"/>.</summary>
    public static (ImageDataset Train, ImageDataset Test) Load(DataSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        var info = DatasetInfo.Get(source.Dataset);
        if (info.Name == DatasetInfo.FashionMnist3x32)
        {
            var (train, test) = Load(source with { Dataset = "fashion-mnist" });
            return (ToThreeChannels32(train), ToThreeChannels32(test));
        }
        if (source.IsSample) return LoadFashionMnistSample(source.Directory);
        return info.Name switch
        {
            "mnist" or "fashion-mnist" => LoadIdx(info, source.Directory),
            "cifar10" => LoadCifar10(source.Directory),
            _ => LoadCifar100(source.Directory),
        };
    }

    /// <summary>
    /// A 1×28×28 dataset as 3×32×32 (zero padding of 2 on every side, the grey channel copied to all three), so the
    /// CIFAR models take it: what "fashion-mnist-3x32" loads.
    /// </summary>
    public static ImageDataset ToThreeChannels32(ImageDataset source)
    {
        if (source.Channels != 1 || source.Height != 28 || source.Width != 28)
            throw new ArgumentException($"{source.Name}: expected 1x28x28 images to pad to 3x32x32, got {source.Channels}x{source.Height}x{source.Width}");
        const int size = 32, pad = 2, plane = size * size;
        var pixels = new byte[source.Count * 3 * plane];
        var labels = new int[source.Count];
        for (int n = 0; n < source.Count; n++)
        {
            var src = source.Pixels(n);
            var dst = pixels.AsSpan(n * 3 * plane, 3 * plane);
            for (int y = 0; y < 28; y++)
                src.Slice(y * 28, 28).CopyTo(dst.Slice((y + pad) * size + pad, 28));
            dst[..plane].CopyTo(dst.Slice(plane, plane));
            dst[..plane].CopyTo(dst.Slice(2 * plane, plane));
            labels[n] = source.Label(n);
        }
        return new ImageDataset($"{source.Name} (3x32x32)", pixels, labels, 3, size, size, source.NumClasses);
    }

    public static (ImageDataset Train, ImageDataset Test) LoadCifar10(string dataDir)
    {
        string[] train = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
        string dir = DataDirectory.Resolve("CIFAR-10", dataDir, ["cifar-10-batches-bin"], [.. train, "test_batch.bin"], allowGz: false);
        int[] classes = [10];
        return (CifarFormat.Read("cifar10/train", train.Select(f => Path.Combine(dir, f)).ToArray(), "CIFAR-10", classes, 0),
                CifarFormat.Read("cifar10/test", [Path.Combine(dir, "test_batch.bin")], "CIFAR-10", classes, 0));
    }

    /// <summary>CIFAR-100 with its 100 fine labels (default) or its 20 coarse superclass labels.</summary>
    public static (ImageDataset Train, ImageDataset Test) LoadCifar100(string dataDir, bool coarseLabels = false)
    {
        string dir = DataDirectory.Resolve("CIFAR-100", dataDir, ["cifar-100-binary"], ["train.bin", "test.bin"], allowGz: false);
        int[] classes = [20, 100];
        int use = coarseLabels ? 0 : 1;
        string kind = coarseLabels ? " (coarse labels)" : "";
        return (CifarFormat.Read($"cifar100/train{kind}", [Path.Combine(dir, "train.bin")], "CIFAR-100", classes, use),
                CifarFormat.Read($"cifar100/test{kind}", [Path.Combine(dir, "test.bin")], "CIFAR-100", classes, use));
    }

    /// <summary>The shipped Fashion-MNIST test split, divided into 8,000 training and 2,000 test images.</summary>
    public static (ImageDataset Train, ImageDataset Test) LoadFashionMnistSample(string sampleDir)
    {
        string dir = DataDirectory.Resolve("Fashion-MNIST sample", sampleDir, [], [IdxTestImages, IdxTestLabels], allowGz: true);
        var all = ReadIdxSplit("fashion-mnist-sample", DataDirectory.Find(dir, IdxTestImages)!, DataDirectory.Find(dir, IdxTestLabels)!, 10);
        if (all.Count <= SampleTrainCount)
            throw new InvalidDataException($"{dir}: the sample has {all.Count} images, need more than {SampleTrainCount} to split");
        return (all.Subset(0, SampleTrainCount, $"fashion-mnist-sample/train (t10k 0..{SampleTrainCount - 1})"),
                all.Subset(SampleTrainCount, all.Count - SampleTrainCount, $"fashion-mnist-sample/test (t10k {SampleTrainCount}..{all.Count - 1})"));
    }

    private static Exception NoDataDir(DatasetInfo info) => new ArgumentException(info.Name switch
    {
        "cifar10" => "cifar10: no data directory given; pass --data-dir pointing at the CIFAR-10 binary version " +
                     "(data_batch_1.bin .. data_batch_5.bin, test_batch.bin, or their parent holding cifar-10-batches-bin/)",
        "cifar100" => "cifar100: no data directory given; pass --data-dir pointing at the CIFAR-100 binary version " +
                      "(train.bin, test.bin, or their parent holding cifar-100-binary/)",
        _ => $"{info.Name}: no data directory given; pass --data-dir pointing at {string.Join(", ", IdxFiles)} (raw or .gz)",
    });
}
