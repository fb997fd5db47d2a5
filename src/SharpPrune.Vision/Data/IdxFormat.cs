using System.Buffers.Binary;

namespace SharpPrune.Vision.Data;

/// <summary>
/// The IDX format of MNIST and Fashion-MNIST: a big-endian header (magic 0x00000803 + count, rows, cols for
/// images; magic 0x00000801 + count for labels) followed by unsigned bytes.
/// </summary>
internal static class IdxFormat
{
    public const int ImagesMagic = 0x00000803;
    public const int LabelsMagic = 0x00000801;

    public readonly record struct Images(ReadOnlyMemory<byte> Pixels, int Count, int Rows, int Cols, string FileName);

    /// <summary>The largest IDX file we read: its pixels must fit in one array.</summary>
    private static readonly long MaxFileLength = Array.MaxLength;

    public static Images ReadImages(string path)
    {
        var file = DataFile.Read(path, 16, h => DeclaredImagesLength(h, Path.GetFileName(path)), MaxFileLength);
        var b = file.Bytes.Span;
        CheckMagic(file, b, ImagesMagic, "images (idx3-ubyte)", 16);
        int count = ReadDim(file, b, 4, "image count"), rows = ReadDim(file, b, 8, "rows"), cols = ReadDim(file, b, 12, "columns");
        if (rows == 0 || cols == 0) throw new InvalidDataException($"{file.FileName}: header declares empty {rows}x{cols} images");
        long expected = DeclaredImagesLength(b, file.FileName)!.Value;
        CheckLength(file, expected, $"{count} images of {rows}x{cols}");
        return new Images(file.Bytes.Slice(16, (int)(expected - 16)), count, rows, cols, file.FileName);
    }

    public static int[] ReadLabels(string path, int numClasses)
    {
        var file = DataFile.Read(path, 8, DeclaredLabelsLength, MaxFileLength);
        var b = file.Bytes.Span;
        CheckMagic(file, b, LabelsMagic, "labels (idx1-ubyte)", 8);
        int count = ReadDim(file, b, 4, "label count");
        CheckLength(file, 8 + (long)count, $"{count} labels");
        var labels = new int[count];
        for (int i = 0; i < count; i++)
        {
            int v = b[8 + i];
            if (v >= numClasses)
                throw new InvalidDataException($"{file.FileName}: label {v} at index {i} is out of range 0..{numClasses - 1}");
            labels[i] = v;
        }
        return labels;
    }

    /// <summary>
    /// 16 + count × rows × cols for a valid images header, null for one the reader rejects anyway. The product is
    /// checked: 2^30 × 2^30 × 16 wraps a long to 0, which would pass for an empty file.
    /// </summary>
    private static long? DeclaredImagesLength(ReadOnlySpan<byte> h, string fileName)
    {
        if (h.Length < 16 || BinaryPrimitives.ReadInt32BigEndian(h) != ImagesMagic) return null;
        int count = BinaryPrimitives.ReadInt32BigEndian(h[4..]), rows = BinaryPrimitives.ReadInt32BigEndian(h[8..]), cols = BinaryPrimitives.ReadInt32BigEndian(h[12..]);
        if (count < 0 || rows < 0 || cols < 0) return null;
        try
        {
            long length = checked(16 + (long)count * rows * cols);
            if (length <= MaxFileLength) return length;
        }
        catch (OverflowException) { }
        throw new InvalidDataException(
            $"{fileName}: header declares {count} images of {rows}x{cols}, more than {MaxFileLength:N0} bytes: no IDX file we can read is that large (corrupt header?)");
    }

    private static long? DeclaredLabelsLength(ReadOnlySpan<byte> h)
    {
        if (h.Length < 8 || BinaryPrimitives.ReadInt32BigEndian(h) != LabelsMagic) return null;
        int count = BinaryPrimitives.ReadInt32BigEndian(h[4..]);
        return count < 0 ? null : 8L + count;
    }

    private static void CheckMagic(DataFile file, ReadOnlySpan<byte> b, int magic, string kind, int headerSize)
    {
        if (b.Length < 4)
            throw new InvalidDataException($"{file.FileName}: truncated: {b.Length} bytes, shorter than the {headerSize}-byte IDX {kind} header");
        int actual = BinaryPrimitives.ReadInt32BigEndian(b);
        if (actual != magic)
        {
            string hint = actual == (magic == ImagesMagic ? LabelsMagic : ImagesMagic)
                ? $" (that is the magic of an IDX {(magic == ImagesMagic ? "labels" : "images")} file: are the file names swapped?)"
                : "";
            throw new InvalidDataException($"{file.FileName}: bad magic number 0x{actual:X8}, expected 0x{magic:X8} for IDX {kind}{hint}");
        }
        if (b.Length < headerSize)
            throw new InvalidDataException($"{file.FileName}: truncated: {b.Length} bytes, shorter than the {headerSize}-byte IDX {kind} header");
    }

    private static int ReadDim(DataFile file, ReadOnlySpan<byte> b, int offset, string what)
    {
        int v = BinaryPrimitives.ReadInt32BigEndian(b.Slice(offset));
        if (v < 0) throw new InvalidDataException($"{file.FileName}: header {what} is negative ({v})");
        return v;
    }

    private static void CheckLength(DataFile file, long expected, string declared)
    {
        long actual = file.Bytes.Length;
        if (actual < expected)
            throw new InvalidDataException($"{file.FileName}: truncated: header says {declared} ({expected} bytes) but {file.What} has {actual} bytes");
        if (actual > expected)
            throw new InvalidDataException($"{file.FileName}: {actual - expected} unexpected trailing bytes: header says {declared} ({expected} bytes) but {file.What} has {actual} bytes");
    }
}
