using SharpPrune.Vision.Data;
using static SharpPrune.Tests.Vision.Data.DataFileWriter;

namespace SharpPrune.Tests.Vision.Data;

public class CifarDatasetTests
{
    private const int PerBatch = 3; // records per training batch file

    /// <summary>Label of training image i (0..14 across the five files) and of test image i.</summary>
    private static int TrainLabel(int i) => (i * 7 + 2) % 10;
    private static int TestLabel(int i) => (i * 3 + 1) % 10;

    private static void WriteCifar10(string dir, int testCount = 2)
    {
        for (int f = 0; f < 5; f++)
        {
            var labels = Enumerable.Range(f * PerBatch, PerBatch).Select(i => new[] { TrainLabel(i) }).ToArray();
            File.WriteAllBytes(Path.Combine(dir, $"data_batch_{f + 1}.bin"), CifarRecords(labels, f * PerBatch));
        }
        var test = Enumerable.Range(0, testCount).Select(i => new[] { TestLabel(i) }).ToArray();
        File.WriteAllBytes(Path.Combine(dir, "test_batch.bin"), CifarRecords(test, 1000));
    }

    /// <summary>Checks bytes and floats of a CIFAR image: R plane first, then G, then B, each row-major.</summary>
    private static void AssertImage(ImageDataset ds, int index, int pattern)
    {
        var bytes = ds.Pixels(index);
        var floats = new float[3 * 32 * 32];
        ds.GetImage(index, floats);
        foreach (var (c, y, x) in new[] { (0, 0, 0), (0, 0, 31), (0, 5, 7), (1, 0, 0), (1, 31, 2), (2, 0, 0), (2, 31, 31) })
        {
            int at = c * 1024 + y * 32 + x;
            Assert.Equal(Pixel(pattern, c, y, x), bytes[at]);
            Assert.Equal(Pixel(pattern, c, y, x) / 255f, floats[at]);
        }
        for (int k = 0; k < 3072; k++) Assert.Equal(Pixel(pattern, k / 1024, k % 1024 / 32, k % 32), bytes[k]);
    }

    [Fact]
    public void Cifar10ConcatenatesTheFiveBatchesInOrder()
    {
        using var tmp = new TempDataDir();
        WriteCifar10(tmp.Path);

        var (train, test) = Datasets.Load("CIFAR-10", tmp.Path);

        Assert.Equal((5 * PerBatch, 2), (train.Count, test.Count));
        Assert.Equal((3, 32, 32, 10), (train.Channels, train.Height, train.Width, train.NumClasses));
        Assert.Equal(Enumerable.Range(0, 5 * PerBatch).Select(TrainLabel), train.Labels.ToArray());
        Assert.Equal([TestLabel(0), TestLabel(1)], test.Labels.ToArray());
        AssertImage(train, 0, 0);
        AssertImage(train, PerBatch, PerBatch);          // first record of data_batch_2.bin
        AssertImage(train, 5 * PerBatch - 1, 5 * PerBatch - 1);
        AssertImage(test, 0, 1000);
        AssertImage(test, 1, 1001);
    }

    [Fact]
    public void Cifar10IsFoundInTheUsualSubfolder()
    {
        using var tmp = new TempDataDir();
        WriteCifar10(tmp.Sub("cifar-10-batches-bin"));
        var (train, _) = Datasets.Load("cifar10", tmp.Path);
        Assert.Equal(5 * PerBatch, train.Count);
    }

    [Fact]
    public void Cifar10MissingFileListsExpectedFilesAndSearchedDirectories()
    {
        using var tmp = new TempDataDir();
        WriteCifar10(tmp.Path);
        File.Delete(tmp.File("data_batch_4.bin"));
        var e = Assert.Throws<FileNotFoundException>(() => Datasets.Load("cifar10", tmp.Path));
        Assert.Contains("data_batch_1.bin, data_batch_2.bin, data_batch_3.bin, data_batch_4.bin, data_batch_5.bin, test_batch.bin", e.Message);
        Assert.Contains(Path.Combine(tmp.Path, "cifar-10-batches-bin"), e.Message);
        Assert.Contains($"In {tmp.Path} these are missing: data_batch_4.bin.", e.Message);
    }

    [Fact]
    public void Cifar10SizeNotAMultipleOfTheRecordSize()
    {
        using var tmp = new TempDataDir();
        WriteCifar10(tmp.Path);
        var bytes = File.ReadAllBytes(tmp.File("data_batch_2.bin"));
        File.WriteAllBytes(tmp.File("data_batch_2.bin"), bytes[..^100]);
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Load("cifar10", tmp.Path));
        Assert.Equal("data_batch_2.bin: size 9119 bytes is not a multiple of the CIFAR-10 record size 3073 " +
                     "(1 label byte + 3072 pixel bytes): 2 whole records and 2973 bytes left over", e.Message);
    }

    [Fact]
    public void Cifar10EmptyFileAndLabelOutOfRange()
    {
        using var tmp = new TempDataDir();
        WriteCifar10(tmp.Path);
        File.WriteAllBytes(tmp.File("test_batch.bin"), []);
        var empty = Assert.Throws<InvalidDataException>(() => Datasets.Load("cifar10", tmp.Path));
        Assert.StartsWith("test_batch.bin: file is empty", empty.Message);

        WriteCifar10(tmp.Path);
        File.WriteAllBytes(tmp.File("data_batch_3.bin"), CifarRecords([[1], [10], [2]], 0));
        var label = Assert.Throws<InvalidDataException>(() => Datasets.Load("cifar10", tmp.Path));
        Assert.Equal("data_batch_3.bin: record 1: label 10 is out of range 0..9", label.Message);
    }

    private static void WriteCifar100(string dir)
    {
        File.WriteAllBytes(Path.Combine(dir, "train.bin"), CifarRecords([[19, 99], [0, 0], [7, 42], [3, 13]], 0));
        File.WriteAllBytes(Path.Combine(dir, "test.bin"), CifarRecords([[5, 55], [11, 1]], 500));
    }

    [Fact]
    public void Cifar100FineLabelsByDefaultCoarseOnRequest()
    {
        using var tmp = new TempDataDir();
        WriteCifar100(tmp.Sub("cifar-100-binary"));

        var (train, test) = Datasets.Load("cifar100", tmp.Path);
        Assert.Equal(100, train.NumClasses);
        Assert.Equal([99, 0, 42, 13], train.Labels.ToArray());
        Assert.Equal([55, 1], test.Labels.ToArray());
        AssertImage(train, 0, 0);
        AssertImage(train, 3, 3);
        AssertImage(test, 1, 501);

        var (coarseTrain, coarseTest) = Datasets.LoadCifar100(tmp.Path, coarseLabels: true);
        Assert.Equal(20, coarseTrain.NumClasses);
        Assert.Equal([19, 0, 7, 3], coarseTrain.Labels.ToArray());
        Assert.Equal([5, 11], coarseTest.Labels.ToArray());
        AssertImage(coarseTest, 1, 501);
    }

    [Theory]
    [InlineData(20, 5, "coarse label 20 is out of range 0..19")]
    [InlineData(2, 100, "fine label 100 is out of range 0..99")]
    public void Cifar100ChecksBothLabelRanges(int coarse, int fine, string message)
    {
        using var tmp = new TempDataDir();
        WriteCifar100(tmp.Path);
        File.WriteAllBytes(tmp.File("test.bin"), CifarRecords([[1, 1], [coarse, fine]], 0));
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Load("cifar100", tmp.Path));
        Assert.Equal($"test.bin: record 1: {message}", e.Message);
    }

    [Fact]
    public void Cifar100RecordSizeIncludesBothLabelBytes()
    {
        using var tmp = new TempDataDir();
        WriteCifar100(tmp.Path);
        // Three CIFAR-10-sized records: 9219 bytes, not a multiple of 3074.
        File.WriteAllBytes(tmp.File("train.bin"), CifarRecords([[1], [2], [3]], 0));
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Load("cifar100", tmp.Path));
        Assert.StartsWith("train.bin: size 9219 bytes is not a multiple of the CIFAR-100 record size 3074 (2 label bytes", e.Message);
    }

    [Fact]
    public void Cifar100MissingFilesAreListed()
    {
        using var tmp = new TempDataDir();
        var e = Assert.Throws<FileNotFoundException>(() => Datasets.Load("cifar100", tmp.Path));
        Assert.Contains("expected train.bin, test.bin in one of:", e.Message);
        Assert.Contains(Path.Combine(tmp.Path, "cifar-100-binary"), e.Message);
    }
}
