using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using SharpPrune.IO;

namespace SharpPrune.Tests.IO;

public class SafeTensorsTests
{
    private static List<KeyValuePair<string, Tensor>> Sample() => new()
    {
        new("conv.weight", Tensor.Randn(new Generator(7), 2, 3, 3, 3)),
        new("scalar", Tensor.Scalar(-1.5f)),
        new("empty", Tensor.Zeros(0, 4)),
        new("special", Tensor.FromArray(new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0f, float.Epsilon }, 5)),
        new("fc.bias", Tensor.Arange(3)),
    };

    private static void AssertSameTensors(List<KeyValuePair<string, Tensor>> expected, List<KeyValuePair<string, Tensor>> actual)
    {
        Assert.Equal(expected.Select(kv => kv.Key), actual.Select(kv => kv.Key));
        for (int i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Value.Shape, actual[i].Value.Shape);
            // Bit patterns, so NaN and -0 are checked too.
            Assert.Equal(expected[i].Value.ToArray().Select(BitConverter.SingleToInt32Bits), actual[i].Value.ToArray().Select(BitConverter.SingleToInt32Bits));
        }
    }

    [Fact]
    public void SerializeDeserializeRoundTripsScalarEmptyAndSpecialValues()
    {
        var tensors = Sample();
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "3", ["note"] = "ünïcode \"quoted\" \\ <tag> & +" };
        var back = SafeTensors.Deserialize(SafeTensors.Serialize(tensors, meta), "mem");
        AssertSameTensors(tensors, back.Tensors);
        Assert.Equal(meta, back.Metadata);
        Assert.Equal(0, back.Tensors[1].Value.Dim);
        Assert.Equal(0, back.Tensors[2].Value.Numel);
    }

    [Fact]
    public void SaveLoadFileRoundTripsAndLeavesNoTempFiles()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "sub", "model.safetensors"); // parent directory is created
        var tensors = Sample();
        SafeTensors.Save(path, tensors, new Dictionary<string, string> { ["k"] = "v" });
        var back = SafeTensors.Load(path);
        AssertSameTensors(tensors, back.Tensors);
        Assert.Equal("v", back.Metadata["k"]);
        Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!));
    }

    [Fact]
    public void LayoutIsLengthPrefixThenSpacePaddedJsonThenContiguousData()
    {
        var a = Tensor.FromArray(new[] { 1f, 2f, 3f }, 3);
        var b = Tensor.FromArray(new[] { 4f, 5f, 6f, 7f }, 2, 2);
        var bytes = SafeTensors.Serialize(new KeyValuePair<string, Tensor>[] { new("b", b), new("a", a) }, new Dictionary<string, string> { ["m"] = "x" });

        long n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + n) % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        // Given order is kept ("b" before "a"), metadata first, compact JSON, spaces as padding.
        Assert.Equal("{\"__metadata__\":{\"m\":\"x\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[16,28]}}",
            header.TrimEnd(' '));
        Assert.Matches("^[^ ]*} *$", header);
        var data = bytes.AsSpan(8 + (int)n);
        Assert.Equal(28, data.Length);
        var floats = new float[7];
        for (int i = 0; i < 7; i++) floats[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]);
        Assert.Equal(new[] { 4f, 5f, 6f, 7f, 1f, 2f, 3f }, floats);
    }

    [Fact]
    public void NoMetadataAndNoTensorsIsAValidFile()
    {
        var bytes = SafeTensors.Serialize(Array.Empty<KeyValuePair<string, Tensor>>());
        Assert.Equal("{}      ", Encoding.UTF8.GetString(bytes, 8, bytes.Length - 8));
        var back = SafeTensors.Deserialize(bytes, "empty");
        Assert.Empty(back.Tensors);
        Assert.Empty(back.Metadata);
    }

    [Fact]
    public void FileWrittenByPythonReadsCorrectlyAndWeWriteItByteForByte()
    {
        string path = Fixtures.Path("io", "python_written.safetensors");
        var f = SafeTensors.Load(path);
        Assert.Equal(new[] { "conv1.weight", "conv1.bias", "scalar", "empty", "fc.weight" }, f.Tensors.Select(kv => kv.Key));
        Assert.Equal(new Dictionary<string, string> { ["format"] = "pt", ["model"] = "tiny", ["epoch"] = "7" }, f.Metadata);
        Assert.Equal(new[] { 4, 3, 2, 2 }, f.Get("conv1.weight").Shape);
        Assert.Equal(3.25f, f.Get("scalar").Item());
        Assert.Equal(0, f.Get("scalar").Dim);
        Assert.Equal(new[] { 0, 5 }, f.Get("empty").Shape);
        Assert.Equal(new[] { -2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f }, f.Get("fc.weight").ToArray());
        // Writing what we read, in file order with the file's metadata, reproduces the python writer's bytes exactly.
        Assert.Equal(File.ReadAllBytes(path), SafeTensors.Serialize(f.Tensors, f.Metadata));
    }

    [Fact]
    public void EveryDtypePyTorchSavesConvertsLikeTorchFloat()
    {
        var f = Fixtures.Load("io", "dtypes.safetensors");
        string[] names = { "F64", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "num_batches_tracked" };
        foreach (var name in names)
        {
            var got = f.Get(name);
            var want = f.Get("expect." + name);
            Assert.Equal(want.Shape, got.Shape);
            Assert.True(want.ToArray().SequenceEqual(got.ToArray()), $"{name}: [{string.Join(", ", got.ToArray())}] vs torch [{string.Join(", ", want.ToArray())}]");
        }
        Assert.Equal(391f, f.Get("num_batches_tracked").Item());
    }

    [Fact]
    public void HeaderJsonIsParseableAndOffsetsTileTheBuffer()
    {
        var bytes = SafeTensors.Serialize(Sample());
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var doc = JsonDocument.Parse(bytes.AsMemory(8, n));
        long expected = 0;
        foreach (var p in doc.RootElement.EnumerateObject())
        {
            var off = p.Value.GetProperty("data_offsets");
            Assert.Equal(expected, off[0].GetInt64());
            expected = off[1].GetInt64();
        }
        Assert.Equal(bytes.Length - 8 - n, expected);
    }

    [Fact]
    public void WriterRejectsDuplicateAndReservedNames()
    {
        var t = Tensor.Zeros(1);
        var dup = Assert.Throws<ArgumentException>(() => SafeTensors.Serialize(new KeyValuePair<string, Tensor>[] { new("a", t), new("a", t) }));
        Assert.Contains("duplicate tensor name 'a'", dup.Message);
        Assert.Throws<ArgumentException>(() => SafeTensors.Serialize(new KeyValuePair<string, Tensor>[] { new("__metadata__", t) }));
    }
}

/// <summary>A temp directory removed on dispose.</summary>
internal sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "sharpprune-io-" + Guid.NewGuid().ToString("N"));
    public TempDir() => Directory.CreateDirectory(Path);
    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
