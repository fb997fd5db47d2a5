using SharpPrune.Vision.Data;

namespace SharpPrune.Vision.Training;

/// <summary>The first N images of a dataset (for quick runs and tests).</summary>
public static class DatasetLimit
{
    public static IImageDataset Take(IImageDataset ds, int? limit)
    {
        if (limit is not int n || n >= ds.Count) return ds;
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(limit), $"limit must be >= 1, got {n}");
        return ds is ImageDataset image ? image.Subset(0, n, $"{ds.Name}[:{n}]") : new FirstN(ds, n);
    }

    private sealed class FirstN(IImageDataset inner, int count) : IImageDataset
    {
        public int Count => count;
        public int Channels => inner.Channels;
        public int Height => inner.Height;
        public int Width => inner.Width;
        public int NumClasses => inner.NumClasses;
        public string Name => $"{inner.Name}[:{count}]";
        public int Label(int index) => inner.Label(Check(index));
        public void GetImage(int index, Span<float> chw) => inner.GetImage(Check(index), chw);

        private int Check(int index) => (uint)index < (uint)count
            ? index : throw new ArgumentOutOfRangeException(nameof(index), $"{Name}: index {index} is outside 0..{count - 1}");
    }
}
