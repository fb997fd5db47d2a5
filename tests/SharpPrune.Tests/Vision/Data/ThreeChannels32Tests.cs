using SharpPrune.Vision.Data;

namespace SharpPrune.Tests.Vision.Data;

public class ThreeChannels32Tests
{
    [Fact]
    public void FashionMnist3x32PadsByTwoAndCopiesTheGreyChannel()
    {
        var (train, test) = Datasets.Load(DatasetInfo.FashionMnist3x32, Datasets.SampleDirectory);
        var (grey, _) = Datasets.Load("fashion-mnist", Datasets.SampleDirectory);
        Assert.Equal((3, 32, 32), (train.Channels, train.Height, train.Width));
        Assert.Equal(grey.Count, train.Count);
        Assert.Equal(10, test.NumClasses);
        for (int n = 0; n < 3; n++)
        {
            Assert.Equal(grey.Label(n), train.Label(n));
            var src = grey.Pixels(n); var dst = train.Pixels(n);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++)
                    {
                        bool inside = y >= 2 && y < 30 && x >= 2 && x < 30;
                        Assert.Equal(inside ? src[(y - 2) * 28 + x - 2] : (byte)0, dst[c * 1024 + y * 32 + x]);
                    }
        }
        var info = Datasets.Info("fashion-mnist-3x32");
        Assert.Equal((3, 32, 32), (info.Channels, info.Height, info.Width));
        Assert.Throws<ArgumentException>(() => Datasets.ToThreeChannels32(train));
    }
}
