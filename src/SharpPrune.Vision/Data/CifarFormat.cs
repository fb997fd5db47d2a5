namespace SharpPrune.Vision.Data;

/// <summary>
/// The CIFAR binary formats. CIFAR-10 records are 1 label byte + 3072 pixel bytes, CIFAR-100 records are
/// coarse label byte + fine label byte + 3072 pixel bytes; pixels are the 1024 R, then G, then B values of a
/// 32x32 image, row-major — already CHW, so each record's pixels are copied as they are.
/// </summary>
internal static class CifarFormat
{
    public const int ImageBytes = 3 * 32 * 32;

    /// <summary>Most records one file may hold (CIFAR's largest has 50,000), to bound what a hostile .gz can expand to.</summary>
    public const long MaxRecordsPerFile = 100_000;

    /// <summary>Reads and concatenates files of records with <paramref name="labelBytes"/> leading label bytes;
    /// <paramref name="classes"/>[k] is the class count of label byte k, <paramref name="use"/> the one kept.</summary>
    public static ImageDataset Read(string name, IReadOnlyList<string> paths, string format, int[] classes, int use)
    {
        int labelBytes = classes.Length, recordSize = labelBytes + ImageBytes;
        var files = new List<DataFile>(paths.Count);
        long total = 0;
        foreach (var path in paths)
        {
            // No header to say how much a .gz holds: allow the largest CIFAR file (train.bin, 50,000 records) with room to spare.
            long max = MaxRecordsPerFile * recordSize;
            var file = DataFile.Read(path, 0, _ => max, max);
            long len = file.Bytes.Length;
            if (len > max)
                throw new InvalidDataException($"{file.FileName}: {file.What} holds more than {MaxRecordsPerFile:N0} {format} records ({max:N0} bytes), more than any {format} file");
            if (len == 0) throw new InvalidDataException($"{file.FileName}: {file.What} is empty, expected {format} records of {recordSize} bytes");
            if (len % recordSize != 0)
                throw new InvalidDataException(
                    $"{file.FileName}: size {len} bytes is not a multiple of the {format} record size {recordSize} " +
                    $"({labelBytes} label byte{(labelBytes > 1 ? "s" : "")} + {ImageBytes} pixel bytes): {len / recordSize} whole records and {len % recordSize} bytes left over");
            files.Add(file);
            total += len / recordSize;
        }
        if (total * ImageBytes > Array.MaxLength) throw new InvalidDataException($"{name}: {total} images do not fit in one array");

        var pixels = GC.AllocateUninitializedArray<byte>((int)(total * ImageBytes));
        var labels = new int[total];
        int n = 0;
        foreach (var file in files)
        {
            var b = file.Bytes.Span;
            for (int r = 0, off = 0; off < b.Length; r++, off += recordSize, n++)
            {
                for (int k = 0; k < labelBytes; k++)
                    if (b[off + k] >= classes[k])
                        throw new InvalidDataException(
                            $"{file.FileName}: record {r}: {LabelName(labelBytes, k)}label {b[off + k]} is out of range 0..{classes[k] - 1}");
                labels[n] = b[off + use];
                b.Slice(off + labelBytes, ImageBytes).CopyTo(pixels.AsSpan(n * ImageBytes));
            }
        }
        return new ImageDataset(name, pixels, labels, 3, 32, 32, classes[use]);
    }

    private static string LabelName(int labelBytes, int k) => labelBytes == 1 ? "" : k == 0 ? "coarse " : "fine ";
}
