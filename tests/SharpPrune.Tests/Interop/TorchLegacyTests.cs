using System.Buffers.Binary;
using SharpPrune.IO.Torch;
using SharpPrune.Tests.Core;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Interop;

/// <summary>
/// torch.save's legacy (pre-1.6, non-zip) format, from scripts/make_legacy_pt_fixture.py
/// (<c>_use_new_zipfile_serialization=False</c>): read as the zip format is, and refused cleanly when damaged.
/// </summary>
public sealed class TorchLegacyTests
{
    private static readonly Lazy<SharpPrune.IO.SafeTensorsFile> Expected = new(() => Fixtures.Load("interop", "legacy_expected.safetensors"));

    private static TorchCheckpointFile Read(byte[] file) => TorchCheckpoint.Read(new MemoryStream(file), "legacy.pt");

    [Fact]
    public void CheckpointDictLoadsAndGivesPytorchsOutput()
    {
        var f = TorchCheckpoint.Load(TorchCheckpointTests.File("lenet5_legacy.pth.tar"));
        Assert.Equal("state_dict", f.StateDictKey);
        Assert.True(f.StrippedModulePrefix);
        Assert.Equal("7", f.Metadata["epoch"]);
        Assert.Equal("88.5", f.Metadata["best_prec1"]);
        var model = new LeNet5();
        model.LoadStateDict(f.StateDict);
        TorchCheckpointTests.AssertOutput(model, Expected.Value.Get("lenet5.x"), Expected.Value.Get("lenet5.y"), "legacy lenet5");
    }

    [Fact]
    public void EveryDtypeAndStridedViewsConvertExactly()
    {
        var f = TorchCheckpoint.Load(TorchCheckpointTests.File("dtypes_legacy.pt"));
        Assert.Equal(new[] { "f16", "bf16", "f64", "i64", "transposed", "offset_view", "base" }, f.StateDict.Select(kv => kv.Key));
        foreach (var (k, t) in f.StateDict) TensorAssert.Equal(Expected.Value.Get("dtypes." + k), t, k);
    }

    [Fact]
    public void EveryTruncationIsRefused()
    {
        var bytes = File.ReadAllBytes(TorchCheckpointTests.File("dtypes_legacy.pt"));
        for (int n = 0; n < bytes.Length; n++)
            Assert.Throws<TorchFormatException>(() => Read(bytes[..n]));
        var e = Assert.Throws<TorchFormatException>(() => Read([.. bytes, 0]));
        Assert.Contains("1 bytes follow the last storage", e.Message);
    }

    /// <summary>The offset of the first storage's 8-byte count: after the storage key list, the last pickle.</summary>
    private static int FirstStorage(byte[] bytes)
    {
        // The key list (several keys: APPENDS, 'e') is the only pickle ending in "e."; the first count follows its STOP.
        for (int i = 1; i < bytes.Length; i++)
            if (bytes[i] == (byte)'.' && bytes[i - 1] == (byte)'e') return i + 1;
        throw new InvalidOperationException("no storage list found");
    }

    [Fact]
    public void StorageCountsThatDoNotFitAreRefusedBeforeAllocating()
    {
        var bytes = File.ReadAllBytes(TorchCheckpointTests.File("dtypes_legacy.pt"));
        int at = FirstStorage(bytes);
        long count = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(at));
        Assert.InRange(count, 1, 100);
        foreach (long bad in new[] { long.MaxValue, 1L << 40, -1, count + 1 })
        {
            var b = (byte[])bytes.Clone();
            BinaryPrimitives.WriteInt64LittleEndian(b.AsSpan(at), bad);
            var e = Assert.Throws<TorchFormatException>(() => Read(b));
            Assert.Contains($"holds {bad} elements; its reference says {count}", e.Message);
        }
    }

    [Fact]
    public void ViewMetadataAndBigEndianFilesAreRefusedByName()
    {
        var bytes = File.ReadAllBytes(TorchCheckpointTests.File("dtypes_legacy.pt"));
        // sys_info's little_endian: NEWTRUE (0x88) after its key.
        int le = IndexOf(bytes, "little_endian"u8.ToArray()) + "little_endian".Length + 2; // BINPUT q n
        Assert.Equal(0x88, bytes[le]);
        var b = (byte[])bytes.Clone();
        b[le] = 0x89;
        Assert.Contains("big-endian", Assert.Throws<TorchFormatException>(() => Read(b)).Message);
        // The persistent id's sixth entry, view metadata, is None ('N'); anything else is a pre-0.4 storage view.
        int cpu = IndexOf(bytes, "cpu"u8.ToArray());
        int none = Array.IndexOf(bytes, (byte)'N', cpu);
        b = (byte[])bytes.Clone();
        b[none] = 0x88; // True
        Assert.Contains("is a view of another storage", Assert.Throws<TorchFormatException>(() => Read(b)).Message);
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    [Fact]
    public void RandomMutationsAreReadOrRefusedCleanly()
    {
        var bytes = File.ReadAllBytes(TorchCheckpointTests.File("dtypes_legacy.pt"));
        var rng = new Random(9);
        for (int trial = 0; trial < 400; trial++)
        {
            var m = (byte[])bytes.Clone();
            for (int k = 0; k < 1 + trial % 3; k++) m[rng.Next(m.Length)] = (byte)rng.Next(256);
            try { Read(m); }
            catch (TorchFormatException) { }
        }
    }
}
