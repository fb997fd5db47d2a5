using System.IO.Compression;
using System.Text.Json;

namespace SharpPrune.IO.Torch;

/// <summary>A PyTorch checkpoint as read: the state dict (float32 tensors, PyTorch's keys) and simple extra entries.</summary>
public sealed class TorchCheckpointFile
{
    public List<KeyValuePair<string, Tensor>> StateDict { get; init; } = new();

    /// <summary>
    /// Scalars and strings stored next to the state dict (epoch, best_prec1, arch, …) as text, and <c>cfg</c> as a
    /// JSON array when present (the channel configuration the pruning repositories save with a slimmed model).
    /// </summary>
    public Dictionary<string, string> Metadata { get; init; } = new();

    /// <summary>The key the state dict was found under ("state_dict", "model", "net"), or null for a bare state dict.</summary>
    public string? StateDictKey { get; init; }

    /// <summary>True when DataParallel's "module." prefix was removed from every key.</summary>
    public bool StrippedModulePrefix { get; init; }
}

/// <summary>
/// Reads and writes <c>torch.save</c> files in the zip format of PyTorch ≥ 1.6 (archive/data.pkl + archive/data/KEY
/// storages); also reads the legacy format of older PyTorch (and of <c>_use_new_zipfile_serialization=False</c>):
/// pickles of the magic number, protocol version and sys_info, the object with persistent ids, the list of storage
/// keys, then each storage as an 8-byte element count and its bytes. Reading goes through a restricted unpickler (<see cref="PickleReader"/>) that never runs code, checks
/// every size and offset against the archive before allocating, and converts float16/bfloat16/float64/int storages
/// to float32. Writing produces what <c>torch.load</c> opens into an OrderedDict of float32 tensors.
/// </summary>
public static class TorchCheckpoint
{
    /// <summary>A state dict's pickle holds names and shapes only; anything larger is not a checkpoint of tensors.</summary>
    public const long MaxPickleBytes = 64L << 20;

    /// <summary>Keys under which the repositories store the state dict in a larger checkpoint dict.</summary>
    public static readonly IReadOnlyList<string> StateDictKeys = new[] { "state_dict", "model", "net", "model_state_dict" };

    /// <summary>True when the file starts like a zip archive (PyTorch ≥ 1.6 torch.save) or a legacy torch pickle.</summary>
    public static bool LooksLikeTorch(string path)
    {
        Span<byte> head = stackalloc byte[4];
        using var fs = File.OpenRead(path);
        int n = fs.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        return n == 4 && (IsZip(head) || IsLegacy(head));
    }

    private static bool IsZip(ReadOnlySpan<byte> head) => head[0] == (byte)'P' && head[1] == (byte)'K' && head[2] == 3 && head[3] == 4;

    // Legacy files open with pickle PROTO 2 and LONG1 of 10 bytes: torch's magic number 0x1950a86a20f9469cfc6c.
    private static bool IsLegacy(ReadOnlySpan<byte> head) => head[0] == 0x80 && head[1] == 2 && head[2] == 0x8a && head[3] == 10;

    /// <summary>The whole first pickle of a legacy file: PROTO 2, LONG1 10 bytes of the magic number (little-endian), STOP.</summary>
    private static readonly byte[] LegacyMagic = [0x80, 2, 0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, (byte)'.'];

    /// <summary>The legacy format's protocol version (torch.serialization.PROTOCOL_VERSION).</summary>
    private const long LegacyProtocolVersion = 1001;

    public static TorchCheckpointFile Load(string path)
    {
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(fs, path);
    }

    public static TorchCheckpointFile Read(Stream stream, string source)
    {
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("PyTorch checkpoint I/O assumes a little-endian machine");
        Span<byte> head = stackalloc byte[4];
        int got = stream.ReadAtLeast(head, 4, throwOnEndOfStream: false);
        stream.Position = 0;
        if (got == 4 && IsLegacy(head)) return ReadLegacy(stream, source);
        ZipArchive zip;
        try { zip = new ZipArchive(stream, ZipArchiveMode.Read, leaveOpen: true); }
        catch (InvalidDataException e) { throw new TorchFormatException($"{source}: not a PyTorch checkpoint (not a zip archive: {e.Message})", e); }
        using (zip)
        {
            try { return ReadArchive(zip, stream.Length, source); }
            catch (InvalidDataException e) { throw new TorchFormatException($"{source}: corrupt zip archive: {e.Message}", e); }
        }
    }

    private static TorchCheckpointFile ReadArchive(ZipArchive zip, long fileLength, string source)
    {
        var pickles = zip.Entries.Where(e => e.FullName.EndsWith("/data.pkl", StringComparison.Ordinal) && e.FullName.Count(c => c == '/') == 1).ToList();
        if (pickles.Count != 1)
            throw new TorchFormatException($"{source}: a torch.save archive has one <name>/data.pkl; found {pickles.Count} (entries: {string.Join(", ", zip.Entries.Take(8).Select(e => e.FullName))})");
        string prefix = pickles[0].FullName[..^"data.pkl".Length];
        var root = PickleReader.Load(ReadEntry(pickles[0], MaxPickleBytes, fileLength, source), source);
        var storages = new Storages(r => ReadZipStorage(zip, prefix, r, fileLength, source), source);
        return Interpret(root, storages, source);
    }

    private static float[] ReadZipStorage(ZipArchive zip, string prefix, StorageRef r, long fileLength, string source)
    {
        if (r.Key.Length == 0 || r.Key.Length > 64 || !r.Key.All(char.IsAsciiLetterOrDigit))
            throw new TorchFormatException($"{source}: storage key '{r.Key}' is not a plain name");
        var entry = zip.GetEntry(prefix + "data/" + r.Key)
            ?? throw new TorchFormatException($"{source}: storage '{r.Key}' is missing from the archive (no {prefix}data/{r.Key})");
        var dt = TorchDTypes.AsSafeTensors(r.DType);
        int size = DTypes.SizeOf(dt);
        if (r.Numel > Array.MaxLength || r.Numel * size != entry.Length)
            throw new TorchFormatException($"{source}: storage '{r.Key}' should hold {r.Numel} {r.DType} elements ({r.Numel * size} bytes) but its entry has {entry.Length} bytes");
        var bytes = ReadEntry(entry, entry.Length, fileLength, source);
        var data = new float[r.Numel];
        DTypes.ToSingle(bytes, dt, data);
        return data;
    }

    /// <summary>
    /// A legacy (non-zip) file. Its pickles must lie within the first <see cref="MaxPickleBytes"/>; the storage section
    /// after them is indexed by reading each storage's 8-byte count (checked against its persistent id and the bytes
    /// left) and skipping its bytes, and only the storages the state dict's tensors use are then read.
    /// </summary>
    private static TorchCheckpointFile ReadLegacy(Stream stream, string source)
    {
        long length = stream.Length;
        var head = new byte[(int)Math.Min(length, MaxPickleBytes)];
        stream.Position = 0;
        stream.ReadExactly(head);
        if (!head.AsSpan().StartsWith(LegacyMagic))
            throw new TorchFormatException($"{source}: not a PyTorch checkpoint (a legacy torch.save file starts with torch's magic number)");
        const string what = "legacy pickle";
        var (version, end, _) = PickleReader.Read(head, LegacyMagic.Length, source, what);
        if (version is not LegacyProtocolVersion)
            throw new TorchFormatException($"{source}: legacy protocol version {PickleReader.Describe(version)}; SharpPrune reads {LegacyProtocolVersion}");
        (var sysInfo, end, _) = PickleReader.Read(head, end, source, what);
        if (sysInfo is not PickleDict info || info.Get("little_endian") is not bool little)
            throw new TorchFormatException($"{source}: the legacy header's sys_info is {PickleReader.Describe(sysInfo)}, not a dict with 'little_endian'");
        if (!little) throw new TorchFormatException($"{source}: saved on a big-endian machine; SharpPrune reads little-endian storages (re-save it on a little-endian machine)");
        (var root, end, var refs) = PickleReader.Read(head, end, source, what);
        (var keyList, end, _) = PickleReader.Read(head, end, source, what);
        if (keyList is not List<object?> keys || keys.Any(k => k is not string))
            throw new TorchFormatException($"{source}: the legacy storage list is {PickleReader.Describe(keyList)}, not a list of keys");

        var referenced = new Dictionary<string, StorageRef>(StringComparer.Ordinal);
        foreach (var r in refs)
            if (referenced.TryGetValue(r.Key, out var seen) && seen != r)
                throw new TorchFormatException($"{source}: storage '{r.Key}' is referenced as {seen.Numel} {seen.DType} and as {r.Numel} {r.DType} elements");
            else referenced[r.Key] = r;
        var index = new Dictionary<string, (long Offset, StorageRef Ref)>(StringComparer.Ordinal);
        long offset = end;
        Span<byte> count = stackalloc byte[8];
        foreach (string key in keys.Cast<string>())
        {
            if (!referenced.TryGetValue(key, out var r))
                throw new TorchFormatException($"{source}: storage '{key}' is listed but nothing in the file refers to it (its element type is unknown)");
            if (index.ContainsKey(key)) throw new TorchFormatException($"{source}: storage '{key}' is listed twice");
            if (length - offset < 8) throw new TorchFormatException($"{source}: storage '{key}' starts at byte {offset} of a {length}-byte file (truncated)");
            stream.Position = offset;
            stream.ReadExactly(count);
            long n = BitConverter.ToInt64(count);
            int size = DTypes.SizeOf(TorchDTypes.AsSafeTensors(r.DType));
            if (n != r.Numel || n > (length - offset - 8) / size)
                throw new TorchFormatException($"{source}: storage '{key}' at byte {offset} holds {n} elements; its reference says {r.Numel} {r.DType} and {length - offset - 8} bytes are left");
            index[key] = (offset + 8, r);
            offset += 8 + n * size;
        }
        if (offset != length) throw new TorchFormatException($"{source}: {length - offset} bytes follow the last storage (corrupt or not a torch.save file)");

        var storages = new Storages(r =>
        {
            if (!index.TryGetValue(r.Key, out var at))
                throw new TorchFormatException($"{source}: storage '{r.Key}' is not in the file's storage list");
            if (at.Ref != r) throw new TorchFormatException($"{source}: storage '{r.Key}' is referenced with different types or sizes");
            var dt = TorchDTypes.AsSafeTensors(r.DType);
            var bytes = new byte[r.Numel * DTypes.SizeOf(dt)];
            stream.Position = at.Offset;
            stream.ReadExactly(bytes);
            var data = new float[r.Numel];
            DTypes.ToSingle(bytes, dt, data);
            return data;
        }, source);
        return Interpret(root, storages, source);
    }

    /// <summary>The entry's bytes; its declared size is checked against the limit and the archive before allocating.</summary>
    private static byte[] ReadEntry(ZipArchiveEntry e, long limit, long fileLength, string source)
    {
        // A stored entry is as large as declared; a compressed one can expand at most ~1032x (deflate's limit).
        if (e.Length > limit || e.CompressedLength > fileLength || e.Length > Math.Max(e.CompressedLength, 1) * 1100)
            throw new TorchFormatException($"{source}: entry '{e.FullName}' declares {e.Length} bytes ({e.CompressedLength} compressed in a {fileLength}-byte file; limit {limit})");
        var bytes = new byte[e.Length];
        using var s = e.Open();
        try { s.ReadExactly(bytes); }
        catch (EndOfStreamException ex) { throw new TorchFormatException($"{source}: entry '{e.FullName}' ends before its declared {e.Length} bytes (truncated)", ex); }
        if (s.ReadByte() != -1) throw new TorchFormatException($"{source}: entry '{e.FullName}' holds more than its declared {e.Length} bytes");
        return bytes;
    }

    /// <summary>Storages by key, read once each (by <paramref name="load"/>, after its size checks) and converted to float32 (views share them).</summary>
    private sealed class Storages(Func<StorageRef, float[]> load, string source)
    {
        private readonly Dictionary<string, float[]> _loaded = new();

        public float[] Get(StorageRef r)
        {
            if (_loaded.TryGetValue(r.Key, out var f))
            {
                if (f.Length != r.Numel) throw new TorchFormatException($"{source}: storage '{r.Key}' is referenced with {r.Numel} and {f.Length} elements");
                return f;
            }
            var data = load(r);
            _loaded[r.Key] = data;
            return data;
        }

        public Tensor Materialize(TensorRef t, string name)
        {
            var storage = Get(t.Storage);
            long numel = 1;
            foreach (long d in t.Size)
            {
                if (d > int.MaxValue) throw new TorchFormatException($"{source}: tensor '{name}' has a dimension of {d}");
                numel *= d;
                if (numel > Array.MaxLength) throw new TorchFormatException($"{source}: tensor '{name}' has more than {Array.MaxLength} elements");
            }
            if (t.Offset < 0) throw new TorchFormatException($"{source}: tensor '{name}' has negative storage offset {t.Offset}");
            if (numel > 0)
            {
                long last = t.Offset;
                for (int i = 0; i < t.Size.Length; i++)
                {
                    if (t.Stride[i] > storage.Length) throw new TorchFormatException($"{source}: tensor '{name}' stride {t.Stride[i]} exceeds its storage of {storage.Length}");
                    last += (t.Size[i] - 1) * t.Stride[i];
                }
                if (last >= storage.Length)
                    throw new TorchFormatException($"{source}: tensor '{name}' (size [{string.Join(", ", t.Size)}], stride [{string.Join(", ", t.Stride)}], offset {t.Offset}) reaches element {last} of a {storage.Length}-element storage");
            }
            var shape = t.Size.Select(d => (int)d).ToArray();
            var data = new float[numel];
            Gather(storage, t.Offset, t.Size, t.Stride, data);
            return new Tensor(data, shape);
        }

        private static void Gather(float[] src, long offset, long[] size, long[] stride, float[] dst)
        {
            if (dst.Length == 0) return;
            int rank = size.Length;
            var idx = new long[rank];
            for (int n = 0; n < dst.Length; n++)
            {
                long p = offset;
                for (int d = 0; d < rank; d++) p += idx[d] * stride[d];
                dst[n] = src[p];
                for (int d = rank - 1; d >= 0; d--)
                {
                    if (++idx[d] < size[d]) break;
                    idx[d] = 0;
                }
            }
        }
    }

    private static TorchCheckpointFile Interpret(object? root, Storages storages, string source)
    {
        if (root is not PickleDict top)
            throw new TorchFormatException($"{source}: holds {PickleReader.Describe(root)}, not a dict (save model.state_dict(), or a dict with it under 'state_dict')");
        PickleDict? sd = null;
        string? where = null;
        if (IsTensorDict(top)) sd = top;
        else
            foreach (var k in StateDictKeys)
                if (top.Get(k) is PickleDict d && IsTensorDict(d)) { sd = d; where = k; break; }
        if (sd == null)
            throw new TorchFormatException($"{source}: no state dict found: neither the file nor its {string.Join("/", StateDictKeys.Select(k => $"'{k}'"))} entry is a dict of tensors (top-level keys: {string.Join(", ", top.Items.Take(12).Select(kv => kv.Key))})");

        var keys = sd.Items.Select(kv => (string)kv.Key).ToList();
        bool strip = keys.Count > 0 && keys.All(k => k.StartsWith("module.", StringComparison.Ordinal));
        var tensors = new List<KeyValuePair<string, Tensor>>(keys.Count);
        foreach (var (k, v) in sd.Items)
        {
            string name = strip ? ((string)k)["module.".Length..] : (string)k;
            tensors.Add(new(name, storages.Materialize((TensorRef)v!, name)));
        }
        var meta = new Dictionary<string, string>();
        if (where != null)
            foreach (var (k, v) in top.Items)
            {
                if (k is not string key || key == where) continue;
                if (key == "cfg" && v is List<object?> cfg) meta["cfg"] = JsonSerializer.Serialize(cfg.Select(Plain).ToList());
                else if (v is string or long or double or bool) meta[key] = Plain(v)!.ToString()!;
            }
        return new TorchCheckpointFile { StateDict = tensors, Metadata = meta, StateDictKey = where, StrippedModulePrefix = strip };
    }

    private static object? Plain(object? v) => v switch
    {
        double d => d.ToString("R", System.Globalization.CultureInfo.InvariantCulture),
        bool b => b ? "True" : "False",
        string or long => v,
        _ => PickleReader.Describe(v),
    };

    private static bool IsTensorDict(PickleDict d) => d.Items.Count > 0 && d.Items.All(kv => kv.Key is string && kv.Value is TensorRef);

    /// <summary>
    /// Writes <paramref name="stateDict"/> as torch.save would write an OrderedDict of contiguous float32 CPU tensors
    /// (zip format, archive/data.pkl + one storage per tensor); atomic (temp file + rename).
    /// </summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> stateDict)
    {
        var list = stateDict.ToList();
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (k, t) in list)
        {
            ArgumentNullException.ThrowIfNull(t, k);
            if (!names.Add(k)) throw new ArgumentException($"duplicate state dict key '{k}'");
        }
        AtomicFile.Write(path, s =>
        {
            using var zip = new ZipArchive(s, ZipArchiveMode.Create, leaveOpen: true);
            Add(zip, "archive/data.pkl", PickleWriter.StateDict(list));
            Add(zip, "archive/byteorder", "little"u8.ToArray());
            for (int i = 0; i < list.Count; i++)
                Add(zip, $"archive/data/{i}", System.Runtime.InteropServices.MemoryMarshal.AsBytes(list[i].Value.Data).ToArray());
            Add(zip, "archive/version", "3\n"u8.ToArray());
        });
    }

    private static void Add(ZipArchive zip, string name, byte[] bytes)
    {
        var e = zip.CreateEntry(name, CompressionLevel.NoCompression);
        using var s = e.Open();
        s.Write(bytes);
    }
}
