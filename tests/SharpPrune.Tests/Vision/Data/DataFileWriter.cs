using System.Buffers.Binary;
using System.IO.Compression;

namespace SharpPrune.Tests.Vision.Data;

/// <summary>A temporary directory plus writers for the IDX and CIFAR binary layouts, byte for byte.</summary>
public sealed class TempDataDir : IDisposable
{
    public TempDataDir()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sharpprune-data-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Sub(string name)
    {
        string dir = System.IO.Path.Combine(Path, name);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

public static class DataFileWriter
{
    /// <summary>Deterministic pixel value of image i, channel c, row y, column x; differs per channel.</summary>
    public static byte Pixel(int i, int c, int y, int x) => (byte)((i * 37 + c * 101 + y * 11 + x * 3 + 5) % 256);

    public static byte[] IdxImages(int count, int rows, int cols, int magic = 0x00000803, int firstImage = 0)
    {
        var b = new byte[16 + count * rows * cols];
        BinaryPrimitives.WriteInt32BigEndian(b, magic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), count);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(8), rows);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(12), cols);
        for (int i = 0, o = 16; i < count; i++)
            for (int y = 0; y < rows; y++)
                for (int x = 0; x < cols; x++) b[o++] = Pixel(firstImage + i, 0, y, x);
        return b;
    }

    public static byte[] IdxLabels(int[] labels, int magic = 0x00000801)
    {
        var b = new byte[8 + labels.Length];
        BinaryPrimitives.WriteInt32BigEndian(b, magic);
        BinaryPrimitives.WriteInt32BigEndian(b.AsSpan(4), labels.Length);
        for (int i = 0; i < labels.Length; i++) b[8 + i] = (byte)labels[i];
        return b;
    }

    /// <summary>CIFAR records: the label bytes of each record, then 1024 R, 1024 G, 1024 B bytes, row-major 32x32.
    /// <paramref name="firstImage"/> offsets the pixel pattern so images differ across files.</summary>
    public static byte[] CifarRecords(int[][] labelBytes, int firstImage)
    {
        int lb = labelBytes.Length == 0 ? 1 : labelBytes[0].Length, rs = lb + 3072;
        var b = new byte[labelBytes.Length * rs];
        for (int r = 0; r < labelBytes.Length; r++)
        {
            int o = r * rs;
            for (int k = 0; k < lb; k++) b[o + k] = (byte)labelBytes[r][k];
            o += lb;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < 32; y++)
                    for (int x = 0; x < 32; x++) b[o++] = Pixel(firstImage + r, c, y, x);
        }
        return b;
    }

    public static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>Pixel pattern offset of the test split, so train and test images differ.</summary>
    public const int TestFirstImage = 100;

    /// <summary>A full MNIST-style directory: train (trainLabels) and test (testLabels) images of rows x cols.</summary>
    public static void WriteIdxSet(string dir, int[] trainLabels, int[] testLabels, int rows, int cols, bool gzip)
    {
        Write(dir, "train-images-idx3-ubyte", IdxImages(trainLabels.Length, rows, cols), gzip);
        Write(dir, "train-labels-idx1-ubyte", IdxLabels(trainLabels), gzip);
        Write(dir, "t10k-images-idx3-ubyte", IdxImages(testLabels.Length, rows, cols, firstImage: TestFirstImage), gzip);
        Write(dir, "t10k-labels-idx1-ubyte", IdxLabels(testLabels), gzip);
    }

    public static string Write(string dir, string name, byte[] data, bool gzip)
    {
        string path = System.IO.Path.Combine(dir, gzip ? name + ".gz" : name);
        File.WriteAllBytes(path, gzip ? Gzip(data) : data);
        return path;
    }
}
