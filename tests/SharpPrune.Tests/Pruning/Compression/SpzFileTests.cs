using System.Buffers.Binary;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Pruning.Compression;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Pruning.Compression;

public class SpzFileTests
{
    private static readonly Dictionary<string, string> Meta = new() { ["model"] = "lenet5", ["num_classes"] = "10" };

    /// <summary>LeNet-5 pruned per layer (conv1 not at all, fc3 entirely), then weight-shared; fc2 shared without pruning.</summary>
    private static Module QuantizedLeNet()
    {
        var m = ModelZoo.Create("lenet5", 10, new Generator(1));
        Prune.L1Unstructured(m.GetSubmodule("conv2"), "weight", 0.6);
        Prune.L1Unstructured(m.GetSubmodule("fc1"), "weight", 0.95);
        Prune.L1Unstructured(m.GetSubmodule("fc3"), "weight", 1.0);
        Prune.L1Unstructured(m.GetSubmodule("conv1"), "weight", 0.0);
        WeightSharing.ApplyToModel(m, (name, layer) => name == "fc2" || name.StartsWith("conv") ? 8 : 5);
        return m;
    }

    [Fact]
    public void HuffmanCodesRoundTripAndStayWithinFifteenBitsForSkewedCounts()
    {
        var counts = new long[40];
        long a = 1, b = 1;
        for (int i = 0; i < counts.Length; i++) { counts[i] = a; (a, b) = (b, a + b); } // Fibonacci: an unlimited tree is 39 deep
        var lengths = Huffman.CodeLengths(counts);
        Assert.True(lengths.Max() <= Huffman.MaxLength);
        var codes = Huffman.Codes(lengths);
        var g = new Generator(1);
        var symbols = Enumerable.Range(0, 500).Select(_ => g.NextInt(40)).ToArray();
        var w = new BitWriter();
        foreach (var s in symbols) w.Write(codes[s], lengths[s]);
        var bytes = w.ToArray();
        var dec = new HuffmanDecoder(lengths, "test");
        var r = new BitReader(bytes);
        foreach (var s in symbols) Assert.Equal(s, dec.Decode(ref r));
        Assert.Equal(new byte[] { 0, 1, 0 }, Huffman.CodeLengths(new long[] { 0, 7, 0 }));
    }

    [Fact]
    public void DecodingGivesBackTheQuantizedStateDictBitForBit()
    {
        var model = QuantizedLeNet();
        var sd = model.StateDict();
        var (bytes, infos) = SpzFile.Encode(sd, Meta);
        var back = SpzFile.Read(bytes);
        Assert.Equal(Meta, back.Metadata);
        var got = back.StateDict.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(sd.Select(kv => kv.Key).OrderBy(k => k), got.Keys.OrderBy(k => k));
        foreach (var (key, t) in sd)
        {
            Assert.Equal(t.Shape, got[key].Shape);
            Assert.Equal(t.Data.ToArray().Select(BitConverter.SingleToInt32Bits), got[key].Data.ToArray().Select(BitConverter.SingleToInt32Bits));
        }
        var fresh = ModelZoo.Create("lenet5", 10, new Generator(7));
        PrunedStateDict.Load(fresh, back.StateDict);
        var x = Tensor.Randn(new Generator(2), 3, 1, 28, 28);
        model.Eval(); fresh.Eval();
        Assert.Equal(model.Forward(x).ToArray(), fresh.Forward(x).ToArray());

        Assert.Equal(infos.Select(i => i.RecordBytes), back.Tensors.Select(i => i.RecordBytes));
        // The keys of a shared tensor may come in any order (indices and mask before the codebook).
        var reversed = SpzFile.Read(SpzFile.Encode(sd.AsEnumerable().Reverse().ToList(), Meta).Bytes);
        Assert.Equal(back.Tensors.Select(t => t.Name).OrderBy(n => n), reversed.Tensors.Select(t => t.Name).OrderBy(n => n));
        var fc3 = back.Tensors.Single(t => t.Name == "fc3.weight");
        Assert.Equal(0, fc3.Kept);
        Assert.Equal(SpzKind.SharedDense, back.Tensors.Single(t => t.Name == "fc2.weight").Kind);
        var report = CompressionReport.FromFile(back);
        Assert.Equal(model.StateDict().Where(kv => !kv.Key.EndsWith("_indices") && !kv.Key.EndsWith("_mask") && !kv.Key.EndsWith("_codebook")).Sum(kv => kv.Value.Numel * 4L)
            + back.Tensors.Where(t => t.Kind != SpzKind.Dense).Sum(t => t.Numel * 4), CompressionReport.Sizes(back).DenseBytes);
        Assert.Equal((double)CompressionReport.Sizes(back).DenseBytes / bytes.Length, report.Total.RatioHuffman, 9);
        Assert.Contains("fc1.weight", report.FormatTable());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(5000)]
    public void AWhollyPrunedTensorOfAnySizeRoundTrips(int n)
    {
        var lin = new Linear(n, 1);
        Prune.L1Unstructured(lin, "weight", 1.0);
        WeightSharing.Apply(lin, "weight", 3);
        var back = SpzFile.Read(SpzFile.Encode(lin.StateDict(), Meta).Bytes).StateDict.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.All(back["weight_mask"].ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(new[] { 1, n }, back["weight_indices"].Shape);
    }

    [Fact]
    public void APrunedButNotQuantizedTensorIsRefused()
    {
        var lin = new Linear(4, 3);
        Prune.L1Unstructured(lin, "weight", 0.5);
        var e = Assert.Throws<ArgumentException>(() => SpzFile.Encode(lin.StateDict(), Meta));
        Assert.Contains("quantize", e.Message);
    }

    [Fact]
    public void EveryTruncationAndEveryFlippedByteIsAnErrorNeverData()
    {
        var (bytes, _) = SpzFile.Encode(QuantizedLeNet().StateDict(), Meta);
        for (int n = 0; n < bytes.Length; n += Math.Max(1, bytes.Length / 200))
        {
            var e = Assert.Throws<InvalidDataException>(() => SpzFile.Read(bytes.AsSpan(0, n), "x.spz"));
            Assert.StartsWith("x.spz: ", e.Message);
        }
        for (int i = 0; i < bytes.Length; i += Math.Max(1, bytes.Length / 300))
        {
            var bad = (byte[])bytes.Clone();
            bad[i] ^= 0x10;
            Assert.Throws<InvalidDataException>(() => SpzFile.Read(bad));
        }
        var flipped = (byte[])bytes.Clone();
        flipped[^3] ^= 1;
        Assert.Contains("checksum", Assert.Throws<InvalidDataException>(() => SpzFile.Read(flipped)).Message);
    }

    [Fact]
    public void SizesAreCheckedBeforeAllocatingEvenWithAValidChecksum()
    {
        // A dense tensor claiming 2^31-1 elements in a tiny file, with its CRC made to match.
        var w = new MemoryStream();
        var bw = new BinaryWriter(w);
        bw.Write7BitEncodedInt(0); bw.Write7BitEncodedInt(1); bw.Write("w"); bw.Write((byte)0); bw.Write((byte)1); bw.Write7BitEncodedInt(int.MaxValue);
        var e = Assert.Throws<InvalidDataException>(() => SpzFile.Read(WithHeader(w.ToArray())));
        Assert.Contains("needs", e.Message);

        // A shared tensor of 2^30 elements covered by two entries.
        w = new MemoryStream(); bw = new BinaryWriter(w);
        bw.Write7BitEncodedInt(0); bw.Write7BitEncodedInt(1); bw.Write("w"); bw.Write((byte)SpzKind.SharedSparse); bw.Write((byte)1); bw.Write7BitEncodedInt(1 << 30);
        bw.Write7BitEncodedInt(1); bw.Write(0.5f); bw.Write7BitEncodedInt(2); bw.Write((byte)4); bw.Write((byte)0x11); bw.Write(new byte[8]); bw.Write7BitEncodedInt(1); bw.Write((byte)0);
        e = Assert.Throws<InvalidDataException>(() => SpzFile.Read(WithHeader(w.ToArray())));
        Assert.Contains("cannot be covered", e.Message);

        // A varint that never ends, and one above int.MaxValue.
        Assert.Contains("varint", Assert.Throws<InvalidDataException>(() => SpzFile.Read(WithHeader([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))).Message);
        Assert.Contains("out of range", Assert.Throws<InvalidDataException>(() => SpzFile.Read(WithHeader([0xFF, 0xFF, 0xFF, 0xFF, 0x0F]))).Message);
    }

    private static byte[] WithHeader(byte[] payload)
    {
        var f = new byte[SpzFile.HeaderBytes + payload.Length];
        SpzFile.Magic.CopyTo(f);
        BinaryPrimitives.WriteUInt16LittleEndian(f.AsSpan(8), SpzFile.Version);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(12), (uint)payload.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(f.AsSpan(16), Crc32.Compute(payload));
        payload.CopyTo(f, SpzFile.HeaderBytes);
        return f;
    }

    [Fact]
    public void Crc32MatchesZlib()
    {
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
    }
}
