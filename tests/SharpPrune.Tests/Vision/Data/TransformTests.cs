using SharpPrune.Vision.Data;

namespace SharpPrune.Tests.Vision.Data;

public class TransformTests
{
    [Fact]
    public void NormalizeSubtractsMeanThenDividesByStdPerChannel()
    {
        float[] img = [1f, 0f, 0.5f, 0.25f, /* channel 1 */ 0.75f, 0.25f, 0f, 1f];
        new Normalize([0.5f, 0.25f], [0.5f, 0.25f]).Apply(img, 2, 2, 2, new Generator(0));
        Assert.Equal([1f, -1f, 0f, -0.5f, 2f, 0f, -1f, 3f], img);

        float[] mono = [0.2f, 0.9f];
        new Normalize([0.1307f], [0.3081f]).Apply(mono, 1, 1, 2, new Generator(0));
        Assert.Equal((0.2f - 0.1307f) / 0.3081f, mono[0]);
        Assert.Equal((0.9f - 0.1307f) / 0.3081f, mono[1]);
    }

    [Fact]
    public void NormalizeIsElementwiseExactOnPlanesLongerThanAVector()
    {
        var g = new Generator(3);
        var img = new float[3 * 67]; // 67 = several SIMD vectors plus a scalar tail
        g.FillUniform(img, 0, 1);
        var expected = (float[])img.Clone();
        float[] mean = [0.4914f, 0.4822f, 0.4465f], std = [0.2470f, 0.2435f, 0.2616f];
        for (int i = 0; i < expected.Length; i++) expected[i] = (expected[i] - mean[i / 67]) / std[i / 67];
        new Normalize(mean, std).Apply(img, 3, 1, 67, g);
        Assert.Equal(expected, img);
    }

    [Fact]
    public void NormalizeValidatesItsStatisticsAndTheChannelCount()
    {
        Assert.Throws<ArgumentException>(() => new Normalize([0.5f, 0.5f], [0.5f]));
        Assert.Throws<ArgumentException>(() => new Normalize([0.5f], [0f]));
        var e = Assert.Throws<ArgumentException>(() => new Normalize([0f, 0f], [1f, 1f]).Apply(new float[12], 3, 2, 2, new Generator(0)));
        Assert.Contains("2 channel statistics but the image has 3 channels", e.Message);
    }

    // 2 channels of 3x3: channel 0 is 1..9, channel 1 is 11..19.
    private static float[] Tiny() => [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19];

    /// <summary>Reference: zero-pad by p, then take the 3x3 window at (top, left) of the padded image.</summary>
    private static float[] PadCrop(float[] img, int c, int h, int w, int p, int top, int left)
    {
        var outp = new float[img.Length];
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                {
                    int sy = top + y - p, sx = left + x - p;
                    outp[ch * h * w + y * w + x] = sy >= 0 && sy < h && sx >= 0 && sx < w ? img[ch * h * w + sy * w + sx] : 0;
                }
        return outp;
    }

    [Fact]
    public void RandomCropMatchesPadThenCropForEveryOffset()
    {
        var seen = new HashSet<(int, int)>();
        for (ulong seed = 0; seed < 200; seed++)
        {
            foreach (int p in new[] { 1, 2, 4 })
            {
                var draws = new Generator(seed);
                int top = draws.NextInt(3 + 2 * p - 3 + 1), left = draws.NextInt(3 + 2 * p - 3 + 1); // row first, like torchvision
                var img = Tiny();
                new RandomCrop(3, p).Apply(img, 2, 3, 3, new Generator(seed));
                Assert.Equal(PadCrop(Tiny(), 2, 3, 3, p, top, left), img);
                if (p == 1) seen.Add((top, left));
            }
        }
        Assert.Equal(9, seen.Count); // every offset of padding 1 was exercised
    }

    [Fact]
    public void RandomCropKnownWindow()
    {
        // Find a seed whose draws put the window at padded (top 0, left 2): content moves down 1 and left 1.
        ulong seed = 0;
        while (true)
        {
            var g = new Generator(seed);
            if (g.NextInt(3) == 0 && g.NextInt(3) == 2) break;
            seed++;
        }
        var img = Tiny();
        new RandomCrop(3, padding: 1).Apply(img, 2, 3, 3, new Generator(seed));
        Assert.Equal([0, 0, 0, 2, 3, 0, 5, 6, 0, 0, 0, 0, 12, 13, 0, 15, 16, 0], img);
    }

    [Fact]
    public void RandomCropWithPaddingZeroIsIdentityAndSizeMustMatch()
    {
        var img = Tiny();
        new RandomCrop(3, padding: 0).Apply(img, 2, 3, 3, new Generator(5));
        Assert.Equal(Tiny(), img);
        var e = Assert.Throws<ArgumentException>(() => new RandomCrop(2).Apply(Tiny(), 2, 3, 3, new Generator(0)));
        Assert.Contains("3x3 image must be 2x2", e.Message);
    }

    [Fact]
    public void RandomHorizontalFlipMirrorsRowsWhenTheDrawIsBelowP()
    {
        var always = Tiny();
        new RandomHorizontalFlip(1).Apply(always, 2, 3, 3, new Generator(0));
        Assert.Equal([3, 2, 1, 6, 5, 4, 9, 8, 7, 13, 12, 11, 16, 15, 14, 19, 18, 17], always);

        var never = Tiny();
        new RandomHorizontalFlip(0).Apply(never, 2, 3, 3, new Generator(0));
        Assert.Equal(Tiny(), never);

        int flips = 0;
        for (ulong seed = 0; seed < 100; seed++)
        {
            bool expectFlip = new Generator(seed).NextDouble() < 0.5;
            var img = Tiny();
            new RandomHorizontalFlip().Apply(img, 2, 3, 3, new Generator(seed));
            Assert.Equal(expectFlip ? always : Tiny(), img);
            flips += expectFlip ? 1 : 0;
        }
        Assert.InRange(flips, 30, 70);
    }

    [Fact]
    public void ComposeAppliesInOrderSharingOneGenerator()
    {
        var crop = new RandomCrop(3, 1);
        var flip = new RandomHorizontalFlip();
        var norm = new Normalize([0.5f, 1f], [2f, 4f]);
        for (ulong seed = 0; seed < 20; seed++)
        {
            var expected = Tiny();
            var g = new Generator(seed);
            crop.Apply(expected, 2, 3, 3, g);
            flip.Apply(expected, 2, 3, 3, g);
            norm.Apply(expected, 2, 3, 3, g);
            var actual = Tiny();
            new Compose(crop, flip, norm).Apply(actual, 2, 3, 3, new Generator(seed));
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void StandardPipelinesPerDataset()
    {
        var train = Assert.IsType<Compose>(Transforms.Train("cifar10"));
        Assert.Collection(train.Transforms,
            t => Assert.Equal((32, 4), (Assert.IsType<RandomCrop>(t).Size, ((RandomCrop)t).Padding)),
            t => Assert.Equal(0.5, Assert.IsType<RandomHorizontalFlip>(t).P),
            t => Assert.Equal([0.4914f, 0.4822f, 0.4465f], Assert.IsType<Normalize>(t).Mean));
        Assert.Equal([0.2673f, 0.2564f, 0.2762f], Assert.IsType<Normalize>(Transforms.Test("cifar100")).Std);
        Assert.Equal([0.1307f], Assert.IsType<Normalize>(Transforms.Train("mnist")).Mean);
        Assert.Equal([0.3530f], Assert.IsType<Normalize>(Transforms.Test("fashion-mnist")).Std);
    }
}
