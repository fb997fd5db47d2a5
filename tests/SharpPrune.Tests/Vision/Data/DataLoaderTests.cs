using System.Diagnostics;
using SharpPrune.Vision.Data;

namespace SharpPrune.Tests.Vision.Data;

public class DataLoaderTests
{
    /// <summary>n random 3x8x8 images with labels i % 10.</summary>
    private static ImageDataset Synthetic(int n, int c = 3, int h = 8, int w = 8)
    {
        var pixels = new byte[n * c * h * w];
        var g = new Generator(123);
        for (int i = 0; i < pixels.Length; i++) pixels[i] = (byte)g.NextInt(256);
        return new ImageDataset("synthetic", pixels, Enumerable.Range(0, n).Select(i => i % 10).ToArray(), c, h, w, 10);
    }

    private static ITransform Augment() => new Compose(new RandomCrop(8, 2), new RandomHorizontalFlip(), new Normalize([0.5f, 0.4f, 0.3f], [0.2f, 0.25f, 0.3f]));

    private static List<Batch> All(DataLoader loader, int epoch) => loader.Epoch(epoch).ToList();

    private static void AssertSameBatches(List<Batch> a, List<Batch> b)
    {
        Assert.Equal(a.Count, b.Count);
        for (int i = 0; i < a.Count; i++)
        {
            Assert.Equal(a[i].Indices, b[i].Indices);
            Assert.Equal(a[i].Labels, b[i].Labels);
            Assert.Equal(a[i].Images.ShapeCopy(), b[i].Images.ShapeCopy());
            Assert.True(a[i].Images.Data.SequenceEqual(b[i].Images.Data), $"batch {i} images differ");
        }
    }

    [Theory]
    [InlineData(false, 7, new[] { 16, 16, 16, 16, 16, 16, 7 })]
    [InlineData(true, 6, new[] { 16, 16, 16, 16, 16, 16 })]
    public void Batches_have_the_right_shapes_and_drop_last_drops_the_partial_one(bool dropLast, int batches, int[] sizes)
    {
        var ds = Synthetic(103);
        var loader = new DataLoader(ds, 16, shuffle: true, transform: null, seed: 1, dropLast: dropLast);
        Assert.Equal(batches, loader.BatchesPerEpoch);
        var list = All(loader, 0);
        Assert.Equal(sizes, list.Select(b => b.Count).ToArray());
        var image = new float[3 * 8 * 8];
        foreach (var b in list)
        {
            Assert.Equal([b.Count, 3, 8, 8], b.Images.ShapeCopy());
            for (int i = 0; i < b.Count; i++)
            {
                Assert.Equal(ds.Label(b.Indices[i]), b.Labels[i]);
                ds.GetImage(b.Indices[i], image);
                Assert.True(b.Images.Data.Slice(i * image.Length, image.Length).SequenceEqual(image));
            }
        }
        var seen = list.SelectMany(b => b.Indices).ToArray();
        Assert.Equal(seen.Length, seen.Distinct().Count());
        Assert.Equal(dropLast ? 96 : 103, seen.Length);
    }

    [Fact]
    public void WithoutShuffleIndicesAreInDatasetOrder()
    {
        var loader = new DataLoader(Synthetic(20), 8, shuffle: false, transform: null, seed: 9);
        Assert.Equal(Enumerable.Range(0, 20), All(loader, 3).SelectMany(b => b.Indices));
    }

    [Fact]
    public void OrderDependsOnSeedAndEpochOnly()
    {
        var ds = Synthetic(64);
        var a = new DataLoader(ds, 10, true, Augment(), seed: 7);
        var b = new DataLoader(ds, 10, true, Augment(), seed: 7, prefetch: 0);
        AssertSameBatches(All(a, 2), All(b, 2));
        Assert.NotEqual(a.EpochOrder(0), a.EpochOrder(1));
        Assert.NotEqual(a.EpochOrder(0), new DataLoader(ds, 10, true, null, seed: 8).EpochOrder(0));
        Assert.Equal(Enumerable.Range(0, 64), a.EpochOrder(5).Order());
    }

    [Fact]
    public void AnEpochIsTheSameWhetherOrNotEarlierEpochsRan()
    {
        var ds = Synthetic(50);
        var warm = new DataLoader(ds, 8, true, Augment(), seed: 42, prefetch: 3);
        foreach (var _ in warm.Epoch(0)) { }
        foreach (var _ in warm.Epoch(1).Take(2)) { } // interrupted epoch
        var resumed = All(warm, 2);
        var fresh = All(new DataLoader(ds, 8, true, Augment(), seed: 42), 2);
        AssertSameBatches(fresh, resumed);
        AssertSameBatches(fresh.Skip(3).ToList(), new DataLoader(ds, 8, true, Augment(), seed: 42).Epoch(2, startBatch: 3).ToList());
        AssertSameBatches([fresh[4]], [warm.GetBatch(2, 4)]);
    }

    [Fact]
    public void ASampleIsAugmentedTheSameRegardlessOfBatchingAndDifferentlyPerEpoch()
    {
        var ds = Synthetic(40);
        var small = new DataLoader(ds, 3, true, Augment(), seed: 5, prefetch: 0);
        var large = new DataLoader(ds, 40, true, Augment(), seed: 5); // large enough to be prepared in parallel
        int size = 3 * 8 * 8;
        float[] Image(DataLoader l, int epoch, int index)
        {
            foreach (var b in l.Epoch(epoch))
            {
                int at = Array.IndexOf(b.Indices, index);
                if (at >= 0) return b.Images.Data.Slice(at * size, size).ToArray();
            }
            throw new InvalidOperationException("index not visited");
        }
        int differentAcrossEpochs = 0;
        for (int index = 0; index < 40; index += 7)
        {
            Assert.Equal(Image(small, 1, index), Image(large, 1, index));
            if (!Image(large, 1, index).SequenceEqual(Image(large, 2, index))) differentAcrossEpochs++;
        }
        Assert.True(differentAcrossEpochs >= 4, $"only {differentAcrossEpochs} of 6 samples changed between epochs");
    }

    /// <summary>Counts images read, so a test can see whether the producer is still working.</summary>
    private sealed class CountingDataset(IImageDataset inner, int throwAt = -1) : IImageDataset
    {
        private int _reads;
        public int Reads => Volatile.Read(ref _reads);
        public int Count => inner.Count;
        public int Channels => inner.Channels;
        public int Height => inner.Height;
        public int Width => inner.Width;
        public int NumClasses => inner.NumClasses;
        public string Name => inner.Name;
        public int Label(int index) => inner.Label(index);
        public void GetImage(int index, Span<float> chw)
        {
            if (index == throwAt) throw new InvalidOperationException($"broken image {index}");
            Interlocked.Increment(ref _reads);
            inner.GetImage(index, chw);
        }
    }

    [Fact]
    public void LeavingAnEpochEarlyStopsTheProducer()
    {
        var counting = new CountingDataset(Synthetic(2000));
        var loader = new DataLoader(counting, 10, true, Augment(), seed: 1, prefetch: 2);
        var clock = Stopwatch.StartNew();
        foreach (var b in loader.Epoch(0))
            if (b.Indices[0] >= 0) break;
        int reads = counting.Reads;
        Thread.Sleep(100);
        Assert.Equal(reads, counting.Reads); // nothing runs after Dispose returned
        Assert.InRange(reads, 10, 10 * (1 + 2 + 1)); // consumed + buffered + one in progress
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5));

        // An enumerator that is never disposed leaves no thread busy: the producer waits on a full channel.
        var e = loader.Epoch(1).GetEnumerator();
        Assert.True(e.MoveNext());
        Thread.Sleep(50);
        int parked = counting.Reads;
        Thread.Sleep(100);
        Assert.Equal(parked, counting.Reads);
        e.Dispose();
    }

    [Theory]
    [InlineData(0)]
    [InlineData(2)]
    public void ProducerErrorsReachTheConsumerWithTheirType(int prefetch)
    {
        var loader = new DataLoader(new CountingDataset(Synthetic(30), throwAt: 17), 4, false, null, seed: 0, prefetch: prefetch);
        int batches = 0;
        var e = Assert.Throws<InvalidOperationException>(() => { foreach (var _ in loader.Epoch(0)) batches++; });
        Assert.Equal("broken image 17", e.Message);
        Assert.Equal(4, batches); // batches 0..3 were delivered before the failing batch 4
    }

    [Fact]
    public void ArgumentsAreValidated()
    {
        var ds = Synthetic(5);
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 0, true, null, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(ds, 2, true, null, 0, prefetch: -1));
        var loader = new DataLoader(ds, 2, true, null, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.Epoch(-1));
        Assert.Throws<ArgumentOutOfRangeException>(() => loader.Epoch(0, startBatch: 4));
        Assert.Empty(loader.Epoch(0, startBatch: 3));
    }
}
