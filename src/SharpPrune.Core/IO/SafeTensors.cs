using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace SharpPrune.IO;

/// <summary>The contents of a safetensors file: tensors in header order (all float32) and the string metadata.</summary>
public sealed class SafeTensorsFile
{
    public List<KeyValuePair<string, Tensor>> Tensors { get; init; } = new();
    public Dictionary<string, string> Metadata { get; init; } = new();
}

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of JSON header padded with spaces to a multiple of 8, then the raw little-endian
/// tensor data. Writing always produces F32; reading accepts every integer and float dtype and converts to float32.
/// </summary>
public static class SafeTensors
{
    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // Like serde_json: escape only what JSON requires, keep names readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        Indented = false,
    };

    /// <summary>Writes <paramref name="tensors"/> as F32 in the given order; atomic (temp file + rename).</summary>
    public static void Save(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        byte[] header = BuildHeader(list, metadata, out _);
        AtomicFile.Write(path, s =>
        {
            WritePrefixAndHeader(s, header);
            foreach (var kv in list) s.Write(MemoryMarshal.AsBytes(kv.Value.Data));
        });
    }

    /// <summary>The bytes <see cref="Save"/> would write.</summary>
    public static byte[] Serialize(IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var list = tensors.ToList();
        byte[] header = BuildHeader(list, metadata, out long dataBytes);
        long total = 8 + header.Length + dataBytes;
        if (total > Array.MaxLength)
            throw new ArgumentException($"serialized size {total} bytes is too large for one byte array; use Save to write it to a file");
        var bytes = new byte[total];
        using var ms = new MemoryStream(bytes);
        WritePrefixAndHeader(ms, header);
        foreach (var kv in list) ms.Write(MemoryMarshal.AsBytes(kv.Value.Data));
        return bytes;
    }

    public static SafeTensorsFile Load(string path)
    {
        EnsureLittleEndian();
        InputFile.RequireRegular(path, "a safetensors file");
        using var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            return Read(fs, fs.Length, path);
        }
        catch (EndOfStreamException e)
        {
            // The header was checked against the size at open; the file shrank while we read it.
            throw new SafeTensorsFormatException($"{path}: file ended early while reading (was it being written?)", e);
        }
    }

    /// <summary>Parses an in-memory file; <paramref name="sourceName"/> is used in error messages.</summary>
    public static SafeTensorsFile Deserialize(byte[] bytes, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        EnsureLittleEndian();
        using var ms = new MemoryStream(bytes, writable: false);
        return Read(ms, bytes.Length, sourceName);
    }

    private static SafeTensorsFile Read(Stream s, long length, string source)
    {
        Span<byte> prefix = stackalloc byte[8];
        if (length >= 8) s.ReadExactly(prefix);
        int n = SafeTensorsHeader.ReadHeaderLength(prefix, length, source);
        var header = new byte[n];
        s.ReadExactly(header);
        var (entries, metadata) = SafeTensorsHeader.Parse(header, length - 8 - n, source);

        // Validation proved the entries tile the buffer, so reading them by offset is one sequential pass.
        var tensors = new Tensor[entries.Count];
        byte[]? scratch = null;
        foreach (int i in Enumerable.Range(0, entries.Count).OrderBy(i => entries[i].Begin))
        {
            var e = entries[i];
            var data = new float[e.Numel];
            if (e.DType == SafeTensorsDType.F32) s.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            else ReadConverted(s, e, data, scratch ??= new byte[1 << 16]);
            tensors[i] = new Tensor(data, e.Shape);
        }
        return new SafeTensorsFile
        {
            Tensors = entries.Select((e, i) => new KeyValuePair<string, Tensor>(e.Name, tensors[i])).ToList(),
            Metadata = metadata,
        };
    }

    private static void ReadConverted(Stream s, SafeTensorsEntry e, float[] dst, byte[] scratch)
    {
        int size = DTypes.SizeOf(e.DType);
        int perChunk = scratch.Length / size;
        for (int done = 0; done < dst.Length; done += perChunk)
        {
            int count = Math.Min(perChunk, dst.Length - done);
            var chunk = scratch.AsSpan(0, count * size);
            s.ReadExactly(chunk);
            DTypes.ToSingle(chunk, e.DType, dst.AsSpan(done, count));
        }
    }

    private static byte[] BuildHeader(List<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, string>? metadata, out long dataBytes)
    {
        EnsureLittleEndian();
        var names = new HashSet<string>(StringComparer.Ordinal);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, WriterOptions))
        {
            w.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                w.WriteStartObject(SafeTensorsHeader.MetadataKey);
                foreach (var kv in metadata)
                {
                    ArgumentNullException.ThrowIfNull(kv.Value, $"metadata['{kv.Key}']");
                    w.WriteString(kv.Key, kv.Value);
                }
                w.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in tensors)
            {
                ArgumentNullException.ThrowIfNull(name, "tensor name");
                if (t is null) throw new ArgumentNullException(nameof(tensors), $"tensor '{name}' is null");
                if (name == SafeTensorsHeader.MetadataKey) throw new ArgumentException($"'{name}' is reserved for metadata and cannot name a tensor");
                if (!names.Add(name)) throw new ArgumentException($"duplicate tensor name '{name}'");
                long bytes = 4L * t.Numel;
                w.WriteStartObject(name);
                w.WriteString("dtype", "F32");
                w.WriteStartArray("shape");
                foreach (int d in t.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteStartArray("data_offsets");
                w.WriteNumberValue(offset);
                w.WriteNumberValue(offset + bytes);
                w.WriteEndArray();
                w.WriteEndObject();
                offset += bytes;
            }
            w.WriteEndObject();
            dataBytes = offset;
        }
        // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
        int pad = (int)((8 - ms.Length % 8) % 8);
        for (int i = 0; i < pad; i++) ms.WriteByte((byte)' ');
        if (ms.Length > SafeTensorsHeader.MaxHeaderBytes)
            throw new ArgumentException($"header of {ms.Length} bytes exceeds the safetensors limit of {SafeTensorsHeader.MaxHeaderBytes}");
        return ms.ToArray();
    }

    private static void WritePrefixAndHeader(Stream s, byte[] header)
    {
        Span<byte> prefix = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)header.Length);
        s.Write(prefix);
        s.Write(header);
    }

    private static void EnsureLittleEndian()
    {
        if (!BitConverter.IsLittleEndian)
            throw new PlatformNotSupportedException("safetensors I/O assumes a little-endian machine");
    }
}
