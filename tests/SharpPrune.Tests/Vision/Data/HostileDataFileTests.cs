using System.Buffers.Binary;
using SharpPrune.Vision.Data;
using static SharpPrune.Tests.Vision.Data.DataFileWriter;

namespace SharpPrune.Tests.Vision.Data;

/// <summary>Small hostile data files (issue 13): clear errors, and memory bounded by what the header declares.</summary>
public class HostileDataFileTests
{
    private const int Rows = 4, Cols = 3;
    private static readonly int[] TrainLabels = [0, 1, 2, 3, 4, 5];
    private static readonly int[] TestLabels = [9, 8, 7];

    private static InvalidDataException LoadWithTestImages(byte[] images, bool gzip)
    {
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip);
        Write(tmp.Path, "t10k-images-idx3-ubyte", images, gzip);
        return Assert.Throws<InvalidDataException>(() => Datasets.Load("mnist", tmp.Path));
    }

    [Fact]
    public void ImageSizeProductThatWrapsALongIsAClearLengthError()
    {
        // 16 × 2^30 × 2^30 = 2^64: an unchecked long product wraps to 0 and would pass the length check.
        var header = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x00000803);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), 16);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), 1 << 30);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), 1 << 30);
        foreach (bool gzip in new[] { false, true })
        {
            var e = LoadWithTestImages(header, gzip);
            Assert.StartsWith("t10k-images-idx3-ubyte", e.Message);
            Assert.Contains(": header declares 16 images of 1073741824x1073741824, more than", e.Message);
        }
    }

    [Fact]
    public void AGzipBombStopsAtTheSizeTheHeaderDeclares()
    {
        // 3 images of 4x3 declared, but the .gz expands to 64 MiB: decompression must stop right after 16 + 36 bytes.
        var content = new byte[64 << 20];
        IdxImages(3, Rows, Cols, firstImage: TestFirstImage).CopyTo(content, 0);
        byte[] bomb = Gzip(content);
        using var tmp = new TempDataDir();
        WriteIdxSet(tmp.Path, TrainLabels, TestLabels, Rows, Cols, gzip: false);
        File.WriteAllBytes(tmp.File("t10k-images-idx3-ubyte.gz"), bomb);
        File.Delete(tmp.File("t10k-images-idx3-ubyte"));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Datasets.Load("mnist", tmp.Path));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.StartsWith("t10k-images-idx3-ubyte.gz: decompresses to more than the 52 bytes its header declares", e.Message);
        Assert.True(allocated < 8L << 20, $"reading a {bomb.Length}-byte gzip bomb allocated {allocated:N0} bytes");
    }

    [Fact]
    public void ACorruptedGzipCrcIsReportedAsACrcError()
    {
        byte[] gz = Gzip(IdxImages(3, Rows, Cols, firstImage: TestFirstImage));
        gz[^8] ^= 0xFF; // the trailer's CRC-32
        var e = LoadWithTestImages(gz, gzip: false);
        Assert.StartsWith("t10k-images-idx3-ubyte: gzip CRC-32 check failed", e.Message);
        Assert.DoesNotContain("unsupported compression method", e.Message);
    }
}
