using System.IO.Compression;
using System.Text;
using SharpPrune.IO.Torch;

namespace SharpPrune.Tests.Interop;

/// <summary>Malformed and malicious .pt files are refused with a TorchFormatException naming the problem; nothing runs.</summary>
public sealed class TorchHostileTests
{
    /// <summary>A torch.save-shaped zip around <paramref name="pickle"/> with the given storages.</summary>
    private static byte[] Zip(byte[] pickle, params (string Key, byte[] Bytes)[] storages)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            void Add(string name, byte[] b) { using var s = zip.CreateEntry(name, CompressionLevel.NoCompression).Open(); s.Write(b); }
            Add("archive/data.pkl", pickle);
            foreach (var (k, b) in storages) Add("archive/data/" + k, b);
            Add("archive/version", "3\n"u8.ToArray());
        }
        return ms.ToArray();
    }

    private static TorchCheckpointFile Read(byte[] file) => TorchCheckpoint.Read(new MemoryStream(file), "test.pt");

    private static TorchFormatException Refused(byte[] file) => Assert.Throws<TorchFormatException>(() => Read(file));

    /// <summary>Pickle opcodes, written as torch.save does (protocol 2).</summary>
    private sealed class P
    {
        private readonly MemoryStream _ms = new();
        public P() { Op(0x80); Op(2); }
        public P Op(params byte[] b) { _ms.Write(b); return this; }
        public P Op(char c) => Op((byte)c);
        public P Global(string m, string n) { Op('c'); _ms.Write(Encoding.ASCII.GetBytes($"{m}\n{n}\n")); return this; }
        public P Str(string s) { var b = Encoding.UTF8.GetBytes(s); Op('X'); _ms.Write(BitConverter.GetBytes(b.Length)); _ms.Write(b); return this; }
        public P Int(long v)
        {
            if (v is >= int.MinValue and <= int.MaxValue) { Op('J'); _ms.Write(BitConverter.GetBytes((int)v)); }
            else { Op(0x8a, 8); _ms.Write(BitConverter.GetBytes(v)); } // LONG1, as pickle writes big ints
            return this;
        }
        public P Ints(params long[] v) { Op('('); foreach (var x in v) Int(x); return Op('t'); }
        public P OrderedDict() => Global("collections", "OrderedDict").Op(')').Op('R');
        public P Tensor(string key, long numel, long offset, long[] size, long[] stride) =>
            Global("torch._utils", "_rebuild_tensor_v2").Op('(')
                .Op('(').Str("storage").Global("torch", "FloatStorage").Str(key).Str("cpu").Int(numel).Op('t').Op('Q')
                .Int(offset).Ints(size).Ints(stride).Op(0x89).OrderedDict().Op('t').Op('R');
        public byte[] Stop() { Op('.'); return _ms.ToArray(); }
    }

    private static byte[] OneTensor(long numel, long offset, long[] size, long[] stride, int storageFloats) =>
        Zip(new P().OrderedDict().Op('(').Str("w").Tensor("0", numel, offset, size, stride).Op('u').Stop(), ("0", new byte[4 * storageFloats]));

    [Fact]
    public void WellFormedHandMadeFileLoads()
    {
        var f = Read(OneTensor(6, 0, new long[] { 2, 3 }, new long[] { 3, 1 }, 6));
        Assert.Equal(new[] { 2, 3 }, f.StateDict.Single().Value.Shape);
    }

    [Fact]
    public void GlobalsOutsideTheAllowListAreRefusedBeforeAnythingRuns()
    {
        var pickle = new P().Global("os", "system").Str("echo pwned").Op(0x85).Op('R').Stop();
        var e = Refused(Zip(pickle));
        Assert.Contains("os.system", e.Message);
        Assert.Contains("not allowed", e.Message);
    }

    [Theory]
    [InlineData(0x81)] // NEWOBJ
    [InlineData((byte)'i')] // INST
    [InlineData((byte)'o')] // OBJ
    [InlineData((byte)'P')] // PERSID (text)
    public void Object_building_opcodes_are_refused(byte op)
    {
        var e = Refused(Zip(new P().Op(op).Stop()));
        Assert.Contains("is not allowed", e.Message);
    }

    [Fact]
    public void ViewReachingPastItsStorageIsRefused()
    {
        var e = Refused(OneTensor(4, 2, new long[] { 3 }, new long[] { 1 }, 4));
        Assert.Contains("reaches element 4 of a 4-element storage", e.Message);
        Refused(OneTensor(4, -1, new long[] { 2 }, new long[] { 1 }, 4));
    }

    [Fact]
    public void HugeDeclaredStorageIsRefusedWithoutAllocatingIt()
    {
        var e = Refused(OneTensor(1L << 40, 0, new long[] { 1L << 20, 1L << 20 }, new long[] { 1L << 20, 1 }, 4));
        Assert.Contains("storage '0' should hold 1099511627776", e.Message);
    }

    [Fact]
    public void MissingStorageEntryIsNamed()
    {
        var pickle = new P().OrderedDict().Op('(').Str("w").Tensor("7", 4, 0, new long[] { 4 }, new long[] { 1 }).Op('u').Stop();
        Assert.Contains("storage '7' is missing", Refused(Zip(pickle)).Message);
    }

    [Fact]
    public void DeepNestingIsRefused()
    {
        var p = new P().Op('}').Str("x");
        for (int i = 0; i < 500; i++) p.Op(']');
        for (int i = 0; i < 500; i++) p.Op('a');
        var e = Refused(Zip(p.Op('s').Stop()));
        Assert.Contains("nested deeper than", e.Message);
    }

    [Fact]
    public void LegacyMagicAloneIsATruncatedFile()
    {
        var e = Refused(new byte[] { 0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e });
        Assert.Contains("legacy pickle at byte 15: pickle ends without STOP (truncated)", e.Message);
    }

    [Fact]
    public void APickledListIsNotAStateDict()
    {
        Assert.Contains("not a dict", Refused(Zip(new P().Op(']').Stop())).Message);
        Assert.Contains("no state dict found", Refused(Zip(new P().Op('}').Str("epoch").Int(3).Op('s').Stop())).Message);
    }

    [Fact]
    public void EveryTruncationOfARealCheckpointIsRefused()
    {
        var bytes = File.ReadAllBytes(TorchCheckpointTests.File("lenet5_pruned.pth"));
        for (int n = 0; n < bytes.Length; n += 1 + n / 3)
            Refused(bytes[..n]);
    }

    [Fact]
    public void MutatedPicklesLoadOrAreRefusedCleanly()
    {
        // Byte mutations of a real pickle (re-zipped, so the archive itself is valid): every outcome is a clean
        // load or a TorchFormatException, never another exception, a hang or an unbounded allocation.
        using var zip = new ZipArchive(File.OpenRead(TorchCheckpointTests.File("dtypes.pt")));
        var pkl = zip.Entries.Single(e => e.FullName.EndsWith("data.pkl"));
        var pickle = new byte[pkl.Length];
        using (var s = pkl.Open()) s.ReadExactly(pickle);
        var storages = zip.Entries.Where(e => e.FullName.Contains("/data/")).Select(e =>
        {
            var b = new byte[e.Length];
            using var s = e.Open();
            s.ReadExactly(b);
            return (e.Name, b);
        }).ToArray();
        var rng = new Random(5);
        int refused = 0;
        for (int trial = 0; trial < 400; trial++)
        {
            var m = (byte[])pickle.Clone();
            for (int k = 0; k < 1 + trial % 3; k++) m[rng.Next(m.Length)] = (byte)rng.Next(256);
            try { Read(Zip(m, storages)); }
            catch (TorchFormatException) { refused++; }
        }
        Assert.InRange(refused, 100, 400);
    }
}

public sealed class TorchSniffingTests
{
    [Fact]
    public void ASafetensorsFileWhoseHeaderLengthStartsWith0x80IsNotTakenForATorchFile()
    {
        string path = Path.Combine(Path.GetTempPath(), $"sp-{Guid.NewGuid():N}.safetensors");
        try
        {
            var model = new SharpPrune.NN.Linear(3, 2);
            SharpPrune.IO.SafeTensors.Save(path, model.StateDict());
            var bytes = File.ReadAllBytes(path);
            bytes[0] = 0x80; // a header length of 0x..80 bytes: the first byte alone says nothing
            File.WriteAllBytes(path, bytes);
            Assert.False(TorchCheckpoint.LooksLikeTorch(path));
        }
        finally { File.Delete(path); }
    }
}
