namespace SharpPrune.Vision.Data;

/// <summary>
/// An in-memory dataset: pixels as uint8 in CHW order, one image after another, and int labels.
/// Pixels stay bytes (4x less memory than floats) and are converted per batch.
/// </summary>
public sealed class ImageDataset : IImageDataset
{
    private readonly ReadOnlyMemory<byte> _pixels;
    private readonly int[] _labels;

    public ImageDataset(string name, ReadOnlyMemory<byte> pixels, int[] labels, int channels, int height, int width, int numClasses)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(labels);
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"{name}: image shape must be positive, got {channels}x{height}x{width}");
        if (numClasses <= 0) throw new ArgumentException($"{name}: number of classes must be positive, got {numClasses}");
        long imageSize = (long)channels * height * width;
        if (pixels.Length != labels.Length * imageSize)
            throw new ArgumentException(
                $"{name}: {labels.Length} labels need {labels.Length * imageSize} pixel bytes ({channels}x{height}x{width} each), got {pixels.Length}");
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)numClasses)
                throw new ArgumentException($"{name}: label {labels[i]} at index {i} is out of range 0..{numClasses - 1}");
        Name = name;
        _pixels = pixels;
        _labels = labels;
        Channels = channels;
        Height = height;
        Width = width;
        NumClasses = numClasses;
        ImageSize = (int)imageSize;
    }

    public string Name { get; }
    public int Count => _labels.Length;
    public int Channels { get; }
    public int Height { get; }
    public int Width { get; }
    public int NumClasses { get; }

    /// <summary>C*H*W, the number of bytes (and floats) per image.</summary>
    public int ImageSize { get; }

    public ReadOnlySpan<int> Labels => _labels;

    public int Label(int index) => _labels[CheckIndex(index)];

    /// <summary>The raw uint8 CHW pixels of one image.</summary>
    public ReadOnlySpan<byte> Pixels(int index) => _pixels.Span.Slice(CheckIndex(index) * ImageSize, ImageSize);

    public void GetImage(int index, Span<float> chw)
    {
        if (chw.Length != ImageSize)
            throw new ArgumentException($"{Name}: image buffer has {chw.Length} floats, expected {ImageSize} ({Channels}x{Height}x{Width})");
        PixelConvert.ToUnitFloat(Pixels(index), chw);
    }

    /// <summary>Images [start, start+count) as a new dataset; pixels are shared, not copied.</summary>
    public ImageDataset Subset(int start, int count, string? name = null)
    {
        if (start < 0 || count < 0 || start > Count - count)
            throw new ArgumentOutOfRangeException(nameof(start), $"{Name}: subset [{start}, {(long)start + count}) is outside 0..{Count}");
        return new ImageDataset(name ?? $"{Name}[{start}..{start + count})",
            _pixels.Slice(start * ImageSize, count * ImageSize), _labels.AsSpan(start, count).ToArray(),
            Channels, Height, Width, NumClasses);
    }

    public override string ToString() => $"{Name}: {Count} images {Channels}x{Height}x{Width}, {NumClasses} classes";

    private int CheckIndex(int index)
    {
        if ((uint)index >= (uint)_labels.Length)
            throw new ArgumentOutOfRangeException(nameof(index), $"{Name}: index {index} is outside 0..{Count - 1}");
        return index;
    }
}
