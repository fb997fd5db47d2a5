namespace SharpPrune.Vision.Data;

/// <summary>
/// torchvision's RandomCrop(size, padding) with zero fill: pad every side by <see cref="Padding"/>, then cut a
/// size x size window at a uniformly random offset (row offset drawn first, then column). The transform works in
/// place, so the crop size must equal the image size (the usual CIFAR 32 / padding 4 setting).
/// </summary>
public sealed class RandomCrop : ITransform
{
    public RandomCrop(int size, int padding = 4)
    {
        if (size <= 0) throw new ArgumentOutOfRangeException(nameof(size), $"RandomCrop: size must be positive, got {size}");
        if (padding < 0) throw new ArgumentOutOfRangeException(nameof(padding), $"RandomCrop: padding must be non-negative, got {padding}");
        Size = size;
        Padding = padding;
    }

    public int Size { get; }
    public int Padding { get; }

    public void Apply(Span<float> chw, int c, int h, int w, Generator rng)
    {
        TransformChecks.Shape(chw, c, h, w, nameof(RandomCrop));
        if (h != Size || w != Size)
            throw new ArgumentException($"RandomCrop: crops in place, so the {h}x{w} image must be {Size}x{Size}");
        int top = rng.NextInt(h + 2 * Padding - Size + 1);
        int left = rng.NextInt(w + 2 * Padding - Size + 1);
        Shift(chw, c, h, w, top - Padding, left - Padding);
    }

    /// <summary>out[y, x] = in[y + dy, x + dx], zero where that falls outside the image. Rows are visited in the
    /// order that never reads a row already overwritten; within a row, Span.CopyTo handles the overlap.</summary>
    internal static void Shift(Span<float> chw, int c, int h, int w, int dy, int dx)
    {
        int plane = h * w;
        int x0 = Math.Max(0, -dx), x1 = Math.Min(w, w - dx); // destination columns that have a source
        for (int ch = 0; ch < c; ch++)
        {
            var p = chw.Slice(ch * plane, plane);
            for (int k = 0; k < h; k++)
            {
                int y = dy >= 0 ? k : h - 1 - k;
                var dst = p.Slice(y * w, w);
                int sy = y + dy;
                if (sy < 0 || sy >= h || x0 >= x1) { dst.Clear(); continue; }
                p.Slice(sy * w + x0 + dx, x1 - x0).CopyTo(dst.Slice(x0));
                dst.Slice(0, x0).Clear();
                dst.Slice(x1).Clear();
            }
        }
    }

    public override string ToString() => $"RandomCrop(size={Size}, padding={Padding})";
}
