using System.Buffers.Binary;
using System.Text;
using SharpPrune.IO;

namespace SharpPrune.Tests.IO;

/// <summary>Malformed and hostile files: each must fail with a clear SafeTensorsFormatException, cheaply.</summary>
public class SafeTensorsHostileTests
{
    /// <summary>A file with the given header text and data length; <paramref name="claimedLength"/> overrides the prefix.</summary>
    private static byte[] File(string header, int dataBytes = 0, ulong? claimedLength = null)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        return bytes;
    }

    private static string Fails(byte[] bytes, string source = "model.safetensors")
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Deserialize(bytes, source));
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Validation happens before tensor memory is allocated: rejecting a file costs about its header.
        Assert.True(allocated < 1_000_000 + 4L * bytes.Length, $"rejecting a {bytes.Length}-byte file allocated {allocated} bytes");
        Assert.StartsWith(source + ":", e.Message);
        return e.Message;
    }

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void ShorterThanTheLengthPrefix(int length) =>
        Assert.Contains($"file has {length} bytes, too short", Fails(new byte[length]));

    [Fact]
    public void HeaderLengthPastEndOfFile() =>
        Assert.Contains("header length 1000 runs past the end of the file (10 bytes", Fails(File("{}", claimedLength: 1000)));

    [Theory]
    [InlineData(100_000_001UL)]
    [InlineData(ulong.MaxValue)]
    public void HeaderLengthOver100MB(ulong claimed) =>
        Assert.Contains($"header length {claimed} exceeds the limit of 100000000 bytes", Fails(File("{}", claimedLength: claimed)));

    [Theory]
    [InlineData("{", "not valid JSON")]
    [InlineData("{\"a\":1,}", "not valid JSON")]
    [InlineData("\u00ff\u00fe", "not valid JSON")]
    [InlineData("{\"\u0001\":1}", "not valid JSON")]
    [InlineData("[1,2]", "must be a JSON object, got array")]
    [InlineData("\"str\"", "must be a JSON object, got string")]
    public void Not_A_Json_Object(string header, string expected) => Assert.Contains(expected, Fails(File(header)));

    [Fact]
    public void InvalidUtf8InAName()
    {
        var bytes = File("{" + Entry("ab", "F32", "[1]", 0, 4) + "}", 4);
        bytes[10] = 0xC5; // first byte of a two-byte sequence, followed by 'b'
        Assert.Contains("header is not valid UTF-8", Fails(bytes));
    }

    [Fact]
    public void DeeplyNestedJsonIsRejectedNotRecursed() =>
        Assert.Contains("not valid JSON", Fails(File("{\"a\":" + new string('[', 100_000) + new string(']', 100_000) + "}")));

    [Fact]
    public void UnknownDtype() =>
        Assert.Contains("tensor 'w': unknown dtype 'C64' (supported: F64, F32", Fails(File("{" + Entry("w", "C64", "[2]", 0, 16) + "}", 16)));

    [Theory]
    [InlineData("[-3, 4]", "shape dimension 0 is -3, expected 0..2147483647")]
    [InlineData("[4, 99999999999999]", "shape dimension 1 is 99999999999999")]
    [InlineData("[2.5]", "shape dimension 0 must be an integer, got 2.5")]
    [InlineData("[\"2\"]", "shape dimension 0 must be an integer")]
    [InlineData("[1e400]", "shape dimension 0 must be an integer")]
    [InlineData("{}", "shape must be an array of integers, got object")]
    [InlineData("[2147483647, 2147483647, 2147483647, 2147483647]", "shape (2147483647, 2147483647, 2147483647, 2147483647) has more than 2147483591 elements")]
    public void Bad_Shapes(string shape, string expected) =>
        Assert.Contains("tensor 'w': " + expected, Fails(File("{" + Entry("w", "F32", shape, 0, 16) + "}", 16)));

    [Fact]
    public void ZeroDimWithHugeOthersIsAnEmptyTensorNotAnOverflow()
    {
        var f = SafeTensors.Deserialize(File("{" + Entry("w", "F32", "[2147483647, 0, 2147483647, 2147483647]", 0, 0) + "}"), "x");
        Assert.Equal(0, f.Tensors[0].Value.Numel);
    }

    [Fact]
    public void ShapeDoesNotMatchOffsetsSpan() =>
        Assert.Equal("model.safetensors: tensor 'conv1.weight': shape (64, 3, 11, 11) needs 92928 bytes of F32 but data_offsets span 1000",
            Fails(File("{" + Entry("conv1.weight", "F32", "[64,3,11,11]", 0, 1000) + "}", 1000)));

    [Fact]
    public void DtypeSizeIsUsedForTheSpan() =>
        Assert.Contains("shape (4,) needs 32 bytes of I64 but data_offsets span 16", Fails(File("{" + Entry("n", "I64", "[4]", 0, 16) + "}", 16)));

    [Theory]
    [InlineData(0, 24, 16, "data_offsets [0, 24] run past the end of the data buffer (16 bytes)")]
    [InlineData(8, 4, 16, "data_offsets [8, 4] end before they begin")]
    [InlineData(-8, 8, 16, "data_offsets begin must be a non-negative integer, got -8")]
    public void Offsets_Out_Of_Range(long begin, long end, int data, string expected) =>
        Assert.Contains(expected, Fails(File("{" + Entry("w", "F32", "[2]", begin, end) + "}", data)));

    [Fact]
    public void OffsetsNotAPair() =>
        Assert.Contains("data_offsets must be an array [begin, end], got [0]", Fails(File("{\"w\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0]}}", 4)));

    [Fact]
    public void OverlappingTensors() =>
        Assert.Contains("tensor 'b' data_offsets [8, 24] overlap tensor 'a' [0, 16]",
            Fails(File("{" + Entry("a", "F32", "[4]", 0, 16) + "," + Entry("b", "F32", "[4]", 8, 24) + "}", 24)));

    [Fact]
    public void HoleBetweenTensors() =>
        Assert.Contains("tensor 'b' starts at byte 20 but the previous tensor ends at 16; bytes [16, 20) belong to no tensor",
            Fails(File("{" + Entry("a", "F32", "[4]", 0, 16) + "," + Entry("b", "F32", "[1]", 20, 24) + "}", 24)));

    [Fact]
    public void HoleAtStart() =>
        Assert.Contains("tensor 'a' starts at byte 4 but the previous tensor ends at 0", Fails(File("{" + Entry("a", "F32", "[1]", 4, 8) + "}", 8)));

    [Fact]
    public void TrailingBytesAfterTheLastTensor() =>
        Assert.Contains("the data buffer has 20 bytes but the tensors cover only the first 16", Fails(File("{" + Entry("a", "F32", "[4]", 0, 16) + "}", 20)));

    [Fact]
    public void DuplicateTensorNames() =>
        Assert.Contains("duplicate entry 'a' in the header", Fails(File("{" + Entry("a", "F32", "[1]", 0, 4) + "," + Entry("a", "F32", "[1]", 4, 8) + "}", 8)));

    [Theory]
    [InlineData("{\"__metadata__\":[1]}", "__metadata__ must be an object of strings, got array")]
    [InlineData("{\"__metadata__\":{\"epoch\":3}}", "__metadata__ entry 'epoch' must be a string, got number")]
    [InlineData("{\"__metadata__\":{\"k\":\"a\",\"k\":\"b\"}}", "duplicate __metadata__ entry 'k'")]
    [InlineData("{\"w\":{\"shape\":[],\"data_offsets\":[0,4]}}", "tensor 'w': missing field 'dtype'")]
    [InlineData("{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[0,4]}}", "field 'dtype' appears 2 times")]
    [InlineData("{\"w\":{\"dtype\":5,\"shape\":[],\"data_offsets\":[0,4]}}", "dtype must be a string, got number")]
    [InlineData("{\"w\":7}", "tensor 'w': entry must be an object")]
    public void Malformed_Entries(string header, string expected) => Assert.Contains(expected, Fails(File(header, 4)));

    [Fact]
    public void EveryTruncationOfAValidFileFailsCleanly()
    {
        var good = SafeTensors.Serialize(new KeyValuePair<string, Tensor>[]
        {
            new("a", Tensor.Arange(5)), new("b", Tensor.Ones(2, 2)), new("s", Tensor.Scalar(1)),
        }, new Dictionary<string, string> { ["epoch"] = "1" });
        for (int len = 0; len < good.Length; len++)
            Fails(good[..len], "cut");
        Assert.Equal(3, SafeTensors.Deserialize(good, "whole").Tensors.Count);
    }

    [Fact]
    public void TruncatedFileOnDiskFailsCleanly()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "cut.safetensors");
        SafeTensors.Save(path, new KeyValuePair<string, Tensor>[] { new("w", Tensor.Ones(100)) });
        var bytes = System.IO.File.ReadAllBytes(path);
        System.IO.File.WriteAllBytes(path, bytes[..^10]);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensors.Load(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("run past the end of the data buffer", e.Message);
    }

    [Fact]
    public void RandomCorruptionsNeverEscapeAsOtherExceptions()
    {
        var good = SafeTensors.Serialize(new KeyValuePair<string, Tensor>[]
        {
            new("layer.weight", Tensor.Randn(new Generator(1), 3, 4)), new("layer.bias", Tensor.Zeros(3)), new("s", Tensor.Scalar(2)),
        }, new Dictionary<string, string> { ["model"] = "m" });
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(good);
        var rng = new Random(12345);
        int rejected = 0;
        for (int trial = 0; trial < 3000; trial++)
        {
            var bytes = (byte[])good.Clone();
            int flips = 1 + rng.Next(3);
            for (int k = 0; k < flips; k++)
            {
                // Mostly corrupt the prefix and header, where parsing happens.
                int pos = rng.Next(4) == 0 ? rng.Next(bytes.Length) : rng.Next(headerEnd);
                bytes[pos] = rng.Next(2) == 0 ? (byte)rng.Next(256) : (byte)"{}[]\",:0-9e. "[rng.Next(13)];
            }
            try { SafeTensors.Deserialize(bytes, "fuzz"); }
            catch (SafeTensorsFormatException) { rejected++; }
        }
        Assert.InRange(rejected, 1000, 3000); // most corruptions are caught; none threw anything else
    }
}
