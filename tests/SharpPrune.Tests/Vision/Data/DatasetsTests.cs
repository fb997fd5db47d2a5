using SharpPrune.Vision.Data;

namespace SharpPrune.Tests.Vision.Data;

public class DatasetsTests
{
    [Fact]
    public void UnknownNameListsTheValidOnes()
    {
        var e = Assert.Throws<ArgumentException>(() => Datasets.Load("imagenet", "/tmp"));
        Assert.Contains("unknown dataset 'imagenet'; valid names: mnist, fashion-mnist, fashion-mnist-3x32, cifar10, cifar100", e.Message);
        Assert.Equal(["mnist", "fashion-mnist", "fashion-mnist-3x32", "cifar10", "cifar100"], Datasets.Names);
    }

    [Theory]
    [InlineData("mnist", "train-images-idx3-ubyte")]
    [InlineData("cifar10", "data_batch_1.bin")]
    [InlineData("CIFAR100", "train.bin")]
    public void WithoutADirectoryOnlyFashionMnistLoads(string name, string expectedFile)
    {
        var e = Assert.Throws<ArgumentException>(() => Datasets.Load(name, null));
        Assert.Contains("--data-dir", e.Message);
        Assert.Contains(expectedFile, e.Message);
    }

    [Theory]
    [InlineData("mnist", new[] { 0.1307f }, new[] { 0.3081f })]
    [InlineData("Fashion-MNIST", new[] { 0.2860f }, new[] { 0.3530f })]
    [InlineData("cifar10", new[] { 0.4914f, 0.4822f, 0.4465f }, new[] { 0.2470f, 0.2435f, 0.2616f })]
    [InlineData("cifar-100", new[] { 0.5071f, 0.4865f, 0.4409f }, new[] { 0.2673f, 0.2564f, 0.2762f })]
    public void Normalisation_constants(string name, float[] mean, float[] std)
    {
        var (m, s) = Datasets.MeanStd(name);
        Assert.Equal(mean, m);
        Assert.Equal(std, s);
        m[0] = 42; // callers get copies
        Assert.Equal(mean[0], Datasets.MeanStd(name).Mean[0]);
    }

    [Fact]
    public void SampleDirectoryIsFoundFromTheBuildOutput()
    {
        string? dir = Datasets.SampleDirectory;
        Assert.NotNull(dir);
        Assert.True(File.Exists(Path.Combine(dir, "t10k-images-idx3-ubyte.gz")));
        Assert.True(File.Exists(Path.Combine(dir, "README.md")));
    }

    /// <summary>The shipped sample always; Debian's full Fashion-MNIST as well when that package is installed.</summary>
    public static TheoryData<string> FashionMnistSources()
    {
        var data = new TheoryData<string> { "sample" };
        if (File.Exists(Path.Combine(Datasets.DebianFashionMnistDirectory, "train-images-idx3-ubyte.gz"))) data.Add("debian");
        return data;
    }

    // Facts about the real files, checked independently with numpy: the t10k split starts with labels 9 2 1 1 6,
    // row 10 of its first image is below, and every split has the same number of images per class.
    private static readonly byte[] T10kImage0Row10 =
        [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 53, 129, 120, 147, 175, 157, 166, 135, 154, 168, 140, 0, 0];

    [Theory]
    [MemberData(nameof(FashionMnistSources))]
    public void RealFashionMnistFilesLoad(string source)
    {
        var (train, test) = source == "sample"
            ? Datasets.Load("fashion-mnist", Datasets.SampleDirectory)
            : Datasets.Load("fashion-mnist", Datasets.DebianFashionMnistDirectory);
        var t10k = source == "sample" ? train : test; // the sample's train part is t10k[0..8000)

        Assert.Equal(source == "sample" ? (8000, 2000) : (60000, 10000), (train.Count, test.Count));
        Assert.Equal((1, 28, 28, 10), (train.Channels, train.Height, train.Width, train.NumClasses));
        Assert.Equal([9, 2, 1, 1, 6], t10k.Labels[..5].ToArray());
        Assert.Equal(T10kImage0Row10, t10k.Pixels(0).Slice(10 * 28, 28).ToArray());
        var image = new float[784];
        t10k.GetImage(0, image);
        Assert.Equal(53 / 255f, image[10 * 28 + 15]);

        int perClass = source == "sample" ? 1000 : 7000;
        var counts = new int[10];
        foreach (var l in train.Labels) counts[l]++;
        foreach (var l in test.Labels) counts[l]++;
        Assert.All(counts, c => Assert.Equal(perClass, c));
    }

    [Fact]
    public void DefaultFashionMnistIsDebianWhenInstalledElseTheSampleSplit()
    {
        bool debian = new[] { "train-images-idx3", "train-labels-idx1", "t10k-images-idx3", "t10k-labels-idx1" }
            .All(f => File.Exists(Path.Combine(Datasets.DebianFashionMnistDirectory, f + "-ubyte.gz")));
        var (train, test) = Datasets.Load("fashion-mnist", null);
        Assert.Equal(debian ? 60000 : Datasets.SampleTrainCount, train.Count);
        Assert.Equal(debian ? 10000 : 2000, test.Count);

        // The sample split: test = t10k[8000..10000), the continuation of train.
        var (sTrain, sTest) = Datasets.LoadFashionMnistSample(Datasets.SampleDirectory!);
        Assert.Equal("fashion-mnist-sample/train (t10k 0..7999)", sTrain.Name);
        Assert.Equal("fashion-mnist-sample/test (t10k 8000..9999)", sTest.Name);
        Assert.Equal((8000, 2000), (sTrain.Count, sTest.Count));
        if (debian)
        {
            Assert.Equal(test.Pixels(8000).ToArray(), sTest.Pixels(0).ToArray());
            Assert.Equal(test.Labels[8000..].ToArray(), sTest.Labels.ToArray());
        }
    }

    [Fact]
    public void SubsetSharesPixelsAndChecksBounds()
    {
        var pixels = Enumerable.Range(0, 5 * 4).Select(i => (byte)i).ToArray();
        var ds = new ImageDataset("toy", pixels, [0, 1, 2, 1, 0], 1, 2, 2, 3);
        var sub = ds.Subset(1, 3);
        Assert.Equal("toy[1..4)", sub.Name);
        Assert.Equal([1, 2, 1], sub.Labels.ToArray());
        Assert.Equal([12, 13, 14, 15], sub.Pixels(2).ToArray());
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Subset(3, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => sub.Label(3));
        var e = Assert.Throws<ArgumentException>(() => new ImageDataset("toy", pixels, [0, 1, 2, 3, 0], 1, 2, 2, 3));
        Assert.Contains("label 3 at index 3 is out of range 0..2", e.Message);
    }
}
