using System.Buffers.Binary;
using System.Text;

namespace SharpPrune.Pruning.Compression;

/// <summary>What a .spz file holds: string metadata and a state dict (weight-shared tensors as their
/// <c>_codebook</c>/<c>_indices</c>/<c>_mask</c> keys), plus the byte count each stored tensor took.</summary>
public sealed record SpzContents(
    IReadOnlyDictionary<string, string> Metadata,
    IReadOnlyList<KeyValuePair<string, Tensor>> StateDict,
    IReadOnlyList<SpzTensorInfo> Tensors,
    long FileBytes);

/// <summary>
/// One stored tensor: its name (the weight's name for a shared one, e.g. <c>fc1.weight</c>), element count, kept
/// entries, codebook size, bits per relative index, the entries coded (kept + filler zeros), the bits of the weight
/// and index streams and the record's total bytes in the file.
/// </summary>
public sealed record SpzTensorInfo(string Name, SpzKind Kind, int[] Shape, long Numel, long Kept, int CodebookSize,
    int IndexBits, long Entries, long WeightStreamBits, long IndexStreamBits, long RecordBytes);

/// <summary>How a tensor is stored in a .spz file.</summary>
public enum SpzKind : byte
{
    /// <summary>Plain float32 values (biases, BatchNorm, any tensor that is not weight-shared).</summary>
    Dense = 0,
    /// <summary>Weight-shared and pruned: relative indices and codebook indices, both Huffman-coded.</summary>
    SharedSparse = 1,
    /// <summary>Weight-shared, not pruned: Huffman-coded codebook indices of every entry.</summary>
    SharedDense = 2,
}

/// <summary>
/// The .spz compressed-model format (Deep Compression's storage; see FORMAT.md beside this file): a checksummed
/// container of metadata, plain float32 tensors and weight-shared tensors stored sparsely with Huffman-coded
/// relative indices and codebook indices. <see cref="Read(ReadOnlySpan{byte}, string)"/> is the single entry point
/// for reading; it validates the checksum and every size before allocating, and never returns partial data.
/// </summary>
public static class SpzFile
{
    public static ReadOnlySpan<byte> Magic => [0x89, (byte)'S', (byte)'P', (byte)'Z', 0x0D, 0x0A, 0x1A, 0x0A];
    public const ushort Version = 1;
    public const int HeaderBytes = 20;
    /// <summary>The largest relative-index width tried when encoding, and accepted when decoding.</summary>
    public const int MaxIndexBits = 12;
    /// <summary>The largest codebook accepted (2^12 values: weight symbols fit 15-bit Huffman codes).</summary>
    public const int MaxCodebook = 1 << 12;
    /// <summary>The most elements one tensor may have.</summary>
    public const long MaxNumel = int.MaxValue;

    /// <summary>True when <paramref name="head"/> starts with the .spz magic.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> head) => head.Length >= Magic.Length && head[..Magic.Length].SequenceEqual(Magic);

    // ------------------------------------------------------------------ writing

    /// <summary>
    /// Encodes a state dict: every <c>X_codebook</c>/<c>X_indices</c> pair (with <c>X_mask</c> if present) as one
    /// weight-shared tensor X, everything else as plain float32. A pruned tensor that is not weight-shared
    /// (<c>X_orig</c>) is refused: quantize it first. Returns the file bytes and what each tensor took.
    /// </summary>
    public static (byte[] Bytes, IReadOnlyList<SpzTensorInfo> Tensors) Encode(IReadOnlyList<KeyValuePair<string, Tensor>> stateDict,
        IReadOnlyDictionary<string, string> metadata)
    {
        var dict = new Dictionary<string, Tensor>();
        foreach (var kv in stateDict) dict[kv.Key] = kv.Value;
        var payload = new MemoryStream();
        var w = new BinaryWriter(payload, Encoding.UTF8);
        w.Write7BitEncodedInt(metadata.Count);
        foreach (var (k, v) in metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal)) { WriteString(w, k); WriteString(w, v); }

        // Keys that belong to a shared tensor (its indices and mask) are stored with its codebook, wherever they come.
        var sharedStems = new HashSet<string>();
        foreach (var key in dict.Keys)
            if (key.EndsWith(SharedWeight.CodebookSuffix, StringComparison.Ordinal)
                && dict.ContainsKey(key[..^SharedWeight.CodebookSuffix.Length] + SharedWeight.IndicesSuffix))
                sharedStems.Add(key[..^SharedWeight.CodebookSuffix.Length]);
        bool PartOfShared(string key, string suffix) =>
            key.EndsWith(suffix, StringComparison.Ordinal) && sharedStems.Contains(key[..^suffix.Length]);

        var records = new List<(string Name, Action<BinaryWriter> Write, Func<long, SpzTensorInfo> Info)>();
        foreach (var (key, t) in stateDict)
        {
            if (PartOfShared(key, SharedWeight.IndicesSuffix) || PartOfShared(key, SharedWeight.MaskSuffix)) continue;
            if (key.EndsWith("_orig", StringComparison.Ordinal))
                throw new ArgumentException($"'{key[..^5]}' is pruned but not weight-shared: quantize it first (sharpprune quantize)");
            if (PartOfShared(key, SharedWeight.CodebookSuffix))
            {
                string stem = key[..^SharedWeight.CodebookSuffix.Length];
                dict.TryGetValue(stem + SharedWeight.MaskSuffix, out var mask);
                records.Add(EncodeShared(stem, t, dict[stem + SharedWeight.IndicesSuffix], mask));
            }
            else
            {
                var tensor = t;
                records.Add((key, bw => WriteDense(bw, key, tensor),
                    bytes => new SpzTensorInfo(key, SpzKind.Dense, tensor.ShapeCopy(), tensor.Numel, tensor.CountNonZero(), 0, 0, 0, 0, 0, bytes)));
            }
        }
        w.Write7BitEncodedInt(records.Count);
        var infos = new List<SpzTensorInfo>();
        foreach (var r in records)
        {
            long start = payload.Position;
            r.Write(w);
            w.Flush();
            infos.Add(r.Info(payload.Position - start));
        }
        w.Flush();
        var body = payload.ToArray();
        var file = new byte[HeaderBytes + body.Length];
        Magic.CopyTo(file);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt16LittleEndian(file.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(12), checked((uint)body.Length));
        BinaryPrimitives.WriteUInt32LittleEndian(file.AsSpan(16), Crc32.Compute(body));
        body.CopyTo(file, HeaderBytes);
        return (file, infos);
    }

    private static void WriteString(BinaryWriter w, string s)
    {
        var b = Encoding.UTF8.GetBytes(s);
                w.Write7BitEncodedInt(b.Length); w.Write(b);
    }

    private static void WriteHeader(BinaryWriter w, string name, SpzKind kind, IReadOnlyList<int> shape)
    {
        WriteString(w, name);
        w.Write((byte)kind);
        if (shape.Count > 255) throw new ArgumentException($"{name}: rank {shape.Count} is too high for .spz");
        w.Write((byte)shape.Count);
        foreach (var d in shape) w.Write7BitEncodedInt(d);
    }

    private static void WriteDense(BinaryWriter w, string name, Tensor t)
    {
        WriteHeader(w, name, SpzKind.Dense, t.Shape);
        foreach (var v in t.Data) w.Write(v);
    }

    private static (string, Action<BinaryWriter>, Func<long, SpzTensorInfo>) EncodeShared(string stem, Tensor codebook, Tensor indices, Tensor? mask)
    {
        if (codebook.Dim != 1 || codebook.Numel < 1 || codebook.Numel > MaxCodebook)
            throw new ArgumentException($"{stem}{SharedWeight.CodebookSuffix}: a codebook must be 1-D with 1 to {MaxCodebook} values, got {Shapes.Format(codebook.Shape)}");
        if (mask != null && !Shapes.Equal(mask.Shape, indices.Shape))
            throw new ArgumentException($"{stem}{SharedWeight.MaskSuffix} has shape {Shapes.Format(mask.Shape)}, its indices {Shapes.Format(indices.Shape)}");
        int k = codebook.Numel;
        var idx = Tensor.ToIndices(indices.Data, k);
        var shape = indices.ShapeCopy();
        var cb = codebook.ToArray();
        if (mask == null)
        {
            var counts = new long[k];
            foreach (var i in idx) counts[i]++;
            var lengths = Huffman.CodeLengths(counts);
            var codes = Huffman.Codes(lengths);
            var bits = new BitWriter();
            foreach (var i in idx) bits.Write(codes[i], lengths[i]);
            var stream = bits.ToArray();
            return (stem, w =>
            {
                WriteHeader(w, stem, SpzKind.SharedDense, shape);
                w.Write7BitEncodedInt(k); foreach (var c in cb) w.Write(c);
                w.Write7BitEncodedInt(idx.Length);
                WriteNibbles(w, lengths);
                w.Write7BitEncodedInt(stream.Length); w.Write(stream);
            }, bytes => new SpzTensorInfo(stem, SpzKind.SharedDense, shape, idx.Length, idx.Length, k, 0, idx.Length, bits.BitCount, 0, bytes));
        }

        var m = mask.Data;
        int numel = m.Length;
        var kept = new List<int>();
        for (int i = 0; i < m.Length; i++)
        {
            if (m[i] == 1f) kept.Add(i);
            else if (m[i] != 0f) throw new ArgumentException($"{stem}{SharedWeight.MaskSuffix} holds {m[i]} at {i}; a mask must be 0 or 1");
        }
        // The relative-index width with the fewest bits after Huffman coding.
        (int Bits, long Cost, List<(int Gap, int Symbol)> Entries, byte[] WL, byte[] GL) best = (0, long.MaxValue, [], [], []);
        for (int ib = 1; ib <= MaxIndexBits; ib++)
        {
            var entries = Entries(kept, idx, m.Length, ib, filler: k);
            var wc = new long[k + 1]; var gc = new long[1 << ib];
            foreach (var (g, s) in entries) { wc[s]++; gc[g]++; }
            var wl = Huffman.CodeLengths(wc); var gl = Huffman.CodeLengths(gc);
            long cost = Huffman.CostBits(wc, wl) + Huffman.CostBits(gc, gl) + 8L * (((1 << ib) + 1) / 2); // + the gap code table
            if (cost < best.Cost) best = (ib, cost, entries, wl, gl);
        }
        var wcodes = Huffman.Codes(best.WL); var gcodes = Huffman.Codes(best.GL);
        var bw = new BitWriter();
        long wbits = 0, gbits = 0;
        foreach (var (g, s) in best.Entries)
        {
            bw.Write(gcodes[g], best.GL[g]); gbits += best.GL[g];
            bw.Write(wcodes[s], best.WL[s]); wbits += best.WL[s];
        }
        var data = bw.ToArray();
        int ibits = best.Bits; var ents = best.Entries; var wlens = best.WL; var glens = best.GL;
        return (stem, w =>
        {
            WriteHeader(w, stem, SpzKind.SharedSparse, shape);
            w.Write7BitEncodedInt(k); foreach (var c in cb) w.Write(c);
            w.Write7BitEncodedInt(ents.Count);
            w.Write((byte)ibits);
            WriteNibbles(w, wlens);
            WriteNibbles(w, glens);
            w.Write7BitEncodedInt(data.Length); w.Write(data);
        }, bytes => new SpzTensorInfo(stem, SpzKind.SharedSparse, shape, numel, kept.Count, k, ibits, ents.Count, wbits, gbits, bytes));
    }

    /// <summary>
    /// The paper's relative indexing: each kept entry is (zeros skipped since the previous entry, its codebook
    /// index). A gap that does not fit <paramref name="ib"/> bits is bridged by filler entries (a skip of 2^ib − 1
    /// and the filler symbol: a stored zero), and fillers continue past the last kept entry until fewer than 2^ib
    /// positions remain, so a decoder can bound the tensor's size by its entry count.
    /// </summary>
    private static List<(int Gap, int Symbol)> Entries(List<int> kept, int[] idx, int numel, int ib, int filler)
    {
        int max = (1 << ib) - 1;
        var e = new List<(int, int)>(kept.Count);
        int prev = -1;
        foreach (int p in kept)
        {
            int gap = p - prev - 1;
            while (gap > max) { e.Add((max, filler)); gap -= max + 1; }
            e.Add((gap, idx[p]));
            prev = p;
        }
        while (numel - 1 - prev > max) { e.Add((max, filler)); prev += max + 1; }
        return e;
    }

    private static void WriteNibbles(BinaryWriter w, byte[] lengths)
    {
        for (int i = 0; i < lengths.Length; i += 2)
            w.Write((byte)(lengths[i] << 4 | (i + 1 < lengths.Length ? lengths[i + 1] : 0)));
    }

    // ------------------------------------------------------------------ reading

    /// <summary>Reads a whole .spz file (see <see cref="Read(ReadOnlySpan{byte}, string)"/>).</summary>
    public static SpzContents ReadFile(string path)
    {
        long length = new FileInfo(path).Length;
        if (length > int.MaxValue) throw new InvalidDataException($"{path}: {length} bytes is larger than a .spz file can be");
        return Read(File.ReadAllBytes(path), path);
    }

    /// <summary>Reads a .spz file from a stream (to its end).</summary>
    public static SpzContents Read(Stream stream, string sourceName = ".spz")
    {
        using var ms = new MemoryStream();
        stream.CopyTo(ms);
        return Read(ms.GetBuffer().AsSpan(0, (int)ms.Length), sourceName);
    }

    /// <summary>
    /// Decodes a .spz file. Checks the magic, the version, the length and the CRC-32 of the payload before
    /// parsing, then every count and size against what is left before allocating. Any inconsistency throws
    /// <see cref="InvalidDataException"/> naming <paramref name="sourceName"/> and what is wrong.
    /// </summary>
    public static SpzContents Read(ReadOnlySpan<byte> file, string sourceName = ".spz")
    {
        try { return ReadCore(file); }
        catch (InvalidDataException e) { throw new InvalidDataException($"{sourceName}: {e.Message}", e); }
    }

    private static SpzContents ReadCore(ReadOnlySpan<byte> file)
    {
        if (file.Length < HeaderBytes || !HasMagic(file))
            throw new InvalidDataException(file.Length < Magic.Length || !HasMagic(file) ? "not a .spz file (bad magic)" : "truncated .spz header");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
        if (version != Version) throw new InvalidDataException($".spz version {version} is not supported (this reader knows version {Version})");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(file[12..]);
        if (length != file.Length - HeaderBytes)
            throw new InvalidDataException($"the header says {length} payload bytes but the file has {file.Length - HeaderBytes} (truncated or padded)");
        var body = file[HeaderBytes..];
        uint crc = BinaryPrimitives.ReadUInt32LittleEndian(file[16..]);
        uint actual = Crc32.Compute(body);
        if (crc != actual) throw new InvalidDataException($"checksum mismatch (stored CRC-32 {crc:x8}, computed {actual:x8}): the file is corrupt");

        var r = new SpanReader(body);
        var meta = new Dictionary<string, string>();
        uint metaCount = r.Var("metadata count");
        if (metaCount > r.Left / 2) throw new InvalidDataException($"metadata count {metaCount} exceeds what the file can hold");
        for (uint i = 0; i < metaCount; i++) { string k = r.String(); meta[k] = r.String(); }
        uint tensorCount = r.Var("tensor count");
        if (tensorCount > r.Left / 3) throw new InvalidDataException($"tensor count {tensorCount} exceeds what the file can hold");
        var state = new List<KeyValuePair<string, Tensor>>();
        var infos = new List<SpzTensorInfo>();
        var names = new HashSet<string>();
        for (uint t = 0; t < tensorCount; t++)
        {
            int start = r.Position;
            string name = r.String();
            if (!names.Add(name)) throw new InvalidDataException($"tensor '{name}' is stored twice");
            var kind = (SpzKind)r.U8("kind");
            int rank = r.U8("rank");
            var shape = new int[rank];
            long numel = 1;
            for (int d = 0; d < rank; d++)
            {
                uint dim = r.Var("dimension");
                if (dim > MaxNumel) throw new InvalidDataException($"tensor '{name}': dimension {dim} is too large");
                shape[d] = (int)dim;
                numel *= dim;
                if (numel > MaxNumel) throw new InvalidDataException($"tensor '{name}': {Shapes.Format(shape)} has more than {MaxNumel} elements");
            }
            switch (kind)
            {
                case SpzKind.Dense:
                {
                    if (numel * 4 > r.Left) throw new InvalidDataException($"tensor '{name}' {Shapes.Format(shape)} needs {numel * 4} bytes, {r.Left} are left");
                    var data = new float[numel];
                    for (long i = 0; i < numel; i++) data[i] = r.F32();
                    var tensor = new Tensor(data, shape);
                    state.Add(new(name, tensor));
                    infos.Add(new SpzTensorInfo(name, kind, shape, numel, tensor.CountNonZero(), 0, 0, 0, 0, 0, r.Position - start));
                    break;
                }
                case SpzKind.SharedSparse:
                case SpzKind.SharedDense:
                    infos.Add(ReadShared(ref r, name, kind, shape, (int)numel, state, start));
                    break;
                default: throw new InvalidDataException($"tensor '{name}': unknown kind {(byte)kind}");
            }
        }
        if (r.Left != 0) throw new InvalidDataException($"{r.Left} unexplained bytes after the last tensor");
        return new SpzContents(meta, state, infos, file.Length);
    }

    private static SpzTensorInfo ReadShared(ref SpanReader r, string name, SpzKind kind, int[] shape, int numel,
        List<KeyValuePair<string, Tensor>> state, int start)
    {
        uint k = r.Var("codebook size");
        if (k < 1 || k > MaxCodebook) throw new InvalidDataException($"tensor '{name}': codebook size {k} outside [1, {MaxCodebook}]");
        if (k * 4 > r.Left) throw new InvalidDataException($"tensor '{name}': codebook of {k} values is cut off");
        var cb = new float[k];
        for (int i = 0; i < k; i++) cb[i] = r.F32();
        uint entries = r.Var("entry count");
        bool sparse = kind == SpzKind.SharedSparse;
        int ib = sparse ? r.U8("index bits") : 0;
        if (sparse && (ib < 1 || ib > MaxIndexBits)) throw new InvalidDataException($"tensor '{name}': index bits {ib} outside [1, {MaxIndexBits}]");
        int wAlphabet = (int)k + (sparse ? 1 : 0);
        var wl = r.Nibbles(wAlphabet);
        var gl = sparse ? r.Nibbles(1 << ib) : [];
        uint streamBytes = r.Var("stream length");
        if (streamBytes > r.Left) throw new InvalidDataException($"tensor '{name}': bit stream of {streamBytes} bytes is cut off ({r.Left} left)");
        var stream = r.Bytes((int)streamBytes);
        // Every code is at least one bit: the entry count is bounded by the stream, the tensor by the entries.
        long minBits = (long)entries * (sparse ? 2 : 1);
        if (minBits > (long)streamBytes * 8) throw new InvalidDataException($"tensor '{name}': {entries} entries cannot fit in {streamBytes} bytes");
        if (!sparse && entries != numel) throw new InvalidDataException($"tensor '{name}': {entries} entries for {numel} elements");
        if (sparse && numel > ((long)entries + 1) << ib) throw new InvalidDataException($"tensor '{name}': {Shapes.Format(shape)} cannot be covered by {entries} entries of {ib}-bit gaps");

        // No entries (an empty or wholly pruned tensor): the code tables are all zero and never used.
        var wdec = entries > 0 ? new HuffmanDecoder(wl, $"tensor '{name}' weight codes") : null;
        var gdec = sparse && entries > 0 ? new HuffmanDecoder(gl, $"tensor '{name}' index codes") : null;
        var indices = new float[numel];
        var mask = sparse ? new float[numel] : null;
        var bits = new BitReader(stream);
        long kept = 0, wbits = 0, gbits = 0;
        long pos = -1;
        for (uint e = 0; e < entries; e++)
        {
            long before = bits.BitsLeft;
            if (sparse)
            {
                pos += gdec!.Decode(ref bits) + 1;
                gbits += before - bits.BitsLeft; before = bits.BitsLeft;
                if (pos >= numel) throw new InvalidDataException($"tensor '{name}': entry {e} lies at {pos}, past the end ({numel} elements)");
            }
            else pos++;
            int s = wdec!.Decode(ref bits);
            wbits += before - bits.BitsLeft;
            if (s == k) continue; // a filler zero: the position stays pruned
            indices[pos] = s;
            if (mask != null) mask[pos] = 1f;
            kept++;
        }
        if (bits.BitsLeft >= 8) throw new InvalidDataException($"tensor '{name}': {bits.BitsLeft} unused bits after the last entry");
        state.Add(new(name + SharedWeight.CodebookSuffix, new Tensor(cb, (int)k)));
        state.Add(new(name + SharedWeight.IndicesSuffix, new Tensor(indices, shape)));
        if (mask != null) state.Add(new(name + SharedWeight.MaskSuffix, new Tensor(mask, shape)));
        return new SpzTensorInfo(name, kind, shape, numel, kept, (int)k, ib, entries, wbits, gbits, r.Position - start);
    }

    /// <summary>Little-endian reads over the payload; running past its end throws.</summary>
    private ref struct SpanReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        public int Position { get; private set; }
        public readonly long Left => _data.Length - Position;

        private ReadOnlySpan<byte> Take(int n, string what)
        {
            if (n > Left) throw new InvalidDataException($"truncated payload while reading {what}");
            var s = _data.Slice(Position, n);
            Position += n;
            return s;
        }

        public byte U8(string what) => Take(1, what)[0];
        /// <summary>An unsigned LEB128 varint (BinaryWriter.Write7BitEncodedInt): at most 5 bytes, at most int.MaxValue.</summary>
        public uint Var(string what)
        {
            uint v = 0;
            for (int shift = 0; shift < 35; shift += 7)
            {
                byte b = Take(1, what)[0];
                v |= (uint)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    if (v > int.MaxValue || (shift == 28 && b > 0x07)) throw new InvalidDataException($"{what} {v} is out of range");
                    return v;
                }
            }
            throw new InvalidDataException($"{what} is not a valid varint (more than 5 bytes)");
        }
        public float F32() => BinaryPrimitives.ReadSingleLittleEndian(Take(4, "float32 values"));
        public ReadOnlySpan<byte> Bytes(int n) => Take(n, "bit stream");

        public string String()
        {
            int n = (int)Var("string length");
            try { return new UTF8Encoding(false, true).GetString(Take(n, "string")); }
            catch (DecoderFallbackException) { throw new InvalidDataException("a name or metadata string is not valid UTF-8"); }
        }

        public byte[] Nibbles(int count)
        {
            var raw = Take((count + 1) / 2, "code lengths");
            var l = new byte[count];
            for (int i = 0; i < count; i++) l[i] = (byte)(i % 2 == 0 ? raw[i / 2] >> 4 : raw[i / 2] & 15);
            return l;
        }
    }
}
