using SharpPrune.Vision.Data;
using static SharpPrune.Tests.Vision.Data.DataFileWriter;

namespace SharpPrune.Tests.Vision.Data;

public class IdxDatasetTests
{
    // 4 rows x 5 columns, so a rows/columns mix-up shows.
    private const int Rows = 4, Cols = 5;
    private static readonly int[] TrainLabels = [3, 0, 9, 1, 7];
    private static readonly int[] TestLabels = [2, 8, 5];

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LoadsIdxBytesLabelsAndShape(bool gzip)
    {
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip);

        var (train, test) = Datasets.Load("MNIST", tmp.Path);

        Assert.Equal((5, 3), (train.Count, test.Count));
        Assert.Equal((1, Rows, Cols, 10), (train.Channels, train.Height, train.Width, train.NumClasses));
        Assert.Equal(TrainLabels, train.Labels.ToArray());
        Assert.Equal(TestLabels, test.Labels.ToArray());
        AssertImage(train, 0, 0);
        AssertImage(train, 4, 4);
        AssertImage(test, 0, TestFirstImage);
        AssertImage(test, 2, TestFirstImage + 2);
    }

    private static void AssertImage(ImageDataset ds, int index, int pattern)
    {
        var pixels = ds.Pixels(index);
        var floats = new float[Rows * Cols];
        ds.GetImage(index, floats);
        for (int y = 0; y < Rows; y++)
            for (int x = 0; x < Cols; x++)
            {
                byte expected = Pixel(pattern, 0, y, x);
                Assert.Equal(expected, pixels[y * Cols + x]);
                Assert.Equal(expected / 255f, floats[y * Cols + x]);
            }
    }

    [Fact]
    public void MixedRawAndGzipFilesAndTorchvisionRawSubfolderAreAccepted()
    {
        using var tmp = new TempDataDir();
        string raw = tmp.Sub("FashionMNIST/raw");
        WriteIdxSet(raw, TrainLabels, TestLabels, Rows, Cols, gzip: true);
        File.Move(Path.Combine(raw, "t10k-labels-idx1-ubyte.gz"), Path.Combine(tmp.Path, "x.gz"));
        Write(raw, "t10k-labels-idx1-ubyte", IdxLabels(TestLabels), gzip: false);

        var (train, test) = Datasets.Load("fashion_mnist", tmp.Path);

        Assert.Equal(TrainLabels, train.Labels.ToArray());
        Assert.Equal(TestLabels, test.Labels.ToArray());
        Assert.Equal("fashion-mnist/train", train.Name);
    }

    [Fact]
    public void ASampleFolderWithOnlyTheTestSplitIsSplit8000ToTheRest()
    {
        using var tmp = new TempDataDir();
        string sample = tmp.Sub("fashion-mnist-sample");
        var labels = Enumerable.Range(0, 8005).Select(i => i % 10).ToArray();
        Write(sample, "t10k-images-idx3-ubyte", IdxImages(labels.Length, Rows, Cols), gzip: true);
        Write(sample, "t10k-labels-idx1-ubyte", IdxLabels(labels), gzip: true);

        var (train, test) = Datasets.Load("fashion-mnist", sample);
        Assert.Equal((8000, 5), (train.Count, test.Count));
        Assert.Equal(Pixel(8000, 0, 3, 4), test.Pixels(0)[3 * Cols + 4]);
        Assert.Equal(labels[8000..], test.Labels.ToArray());

        // With the train files present as well, the same folder loads as a full set.
        WriteIdxSet(sample, TrainLabels, TestLabels, Rows, Cols, gzip: false);
        Assert.Equal(5, Datasets.Load("fashion-mnist", sample).Train.Count);
    }

    [Fact]
    public void MissingFileListsWhatIsMissingAndWhereItLooked()
    {
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip: true);
        File.Delete(tmp.File("t10k-labels-idx1-ubyte.gz"));

        var e = Assert.Throws<FileNotFoundException>(() => Datasets.Load("mnist", tmp.Path));
        Assert.Contains($"In {tmp.Path} these are missing: t10k-labels-idx1-ubyte.", e.Message);
        Assert.Contains(Path.Combine(tmp.Path, "MNIST/raw"), e.Message);
    }

    [Fact]
    public void MissingDirectoryIsNamed()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpprune-no-such-dir-" + Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<DirectoryNotFoundException>(() => Datasets.Load("mnist", dir));
        Assert.Contains(dir, e.Message);
    }

    [Theory]
    [InlineData(false, "file has 70 bytes")]
    [InlineData(true, "decompressed file has 70 bytes")]
    public void TruncatedImagesFileReportsExpectedAndActualSize(bool gzip, string tail)
    {
        var e = LoadWithTestImages(IdxImages(3, Rows, Cols, firstImage: TestFirstImage)[..70], gzip);
        string name = gzip ? "t10k-images-idx3-ubyte.gz" : "t10k-images-idx3-ubyte";
        Assert.Equal($"{name}: truncated: header says 3 images of 4x5 (76 bytes) but {tail}", e.Message);
    }

    [Fact]
    public void HeaderShorterThan16BytesIsTruncated()
    {
        var e = LoadWithTestImages(IdxImages(3, Rows, Cols)[..10], gzip: false);
        Assert.StartsWith("t10k-images-idx3-ubyte: truncated: 10 bytes, shorter than the 16-byte IDX", e.Message);
    }

    [Fact]
    public void TrailingBytesAreRejected()
    {
        var e = LoadWithTestImages([.. IdxImages(3, Rows, Cols), 1, 2], gzip: false);
        Assert.StartsWith("t10k-images-idx3-ubyte: 2 unexpected trailing bytes", e.Message);
    }

    [Fact]
    public void BadMagicIsReportedAndSwappedFilesAreRecognised()
    {
        var bad = LoadWithTestImages(IdxImages(3, Rows, Cols, magic: 0x12345678), gzip: true);
        Assert.StartsWith("t10k-images-idx3-ubyte.gz: bad magic number 0x12345678, expected 0x00000803", bad.Message);

        var swapped = LoadWithTestImages(IdxLabels(TestLabels), gzip: false);
        Assert.Contains("bad magic number 0x00000801", swapped.Message);
        Assert.Contains("swapped", swapped.Message);

        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip: false);
        Write(tmp.Path, "train-labels-idx1-ubyte", IdxLabels(TrainLabels, magic: 0x00000803), gzip: false);
        var labels = Assert.Throws<InvalidDataException>(() => Datasets.Load("mnist", tmp.Path));
        Assert.StartsWith("train-labels-idx1-ubyte: bad magic number 0x00000803, expected 0x00000801", labels.Message);
    }

    [Fact]
    public void LabelOutOfRangeNamesFileIndexAndRange()
    {
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, [1, 2, 10, 3], TestLabels, Rows, Cols, gzip: true);
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Load("mnist", tmp.Path));
        Assert.Equal("train-labels-idx1-ubyte.gz: label 10 at index 2 is out of range 0..9", e.Message);
    }

    [Fact]
    public void ImageAndLabelCountsMustAgree()
    {
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip: false);
        Write(tmp.Path, "t10k-labels-idx1-ubyte", IdxLabels([1, 2]), gzip: false);
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Load("mnist", tmp.Path));
        Assert.Equal("t10k-images-idx3-ubyte has 3 images but t10k-labels-idx1-ubyte has 2 labels", e.Message);
    }

    [Fact]
    public void TrainAndTestImageSizesMustAgree()
    {
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip: false);
        Write(tmp.Path, "t10k-images-idx3-ubyte", IdxImages(3, Cols, Rows), gzip: false);
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Load("mnist", tmp.Path));
        Assert.Contains("train images are 4x5 but test images are 5x4", e.Message);
    }

    [Fact]
    public void CorruptGzipStreamNamesTheFile()
    {
        var e = LoadWithTestImages([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8], gzip: false);
        Assert.StartsWith("t10k-images-idx3-ubyte: corrupt gzip data", e.Message);
    }

    /// <summary>A valid set whose test images file is replaced by <paramref name="images"/>; returns the load error.</summary>
    private static InvalidDataException LoadWithTestImages(byte[] images, bool gzip)
    {
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip);
        Write(tmp.Path, "t10k-images-idx3-ubyte", images, gzip);
        return Assert.Throws<InvalidDataException>(() => Datasets.Load("mnist", tmp.Path));
    }
}
