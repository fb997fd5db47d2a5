using System.Text.Json;

namespace SharpPrune.IO;

/// <summary>Thrown for any malformed safetensors file; the message names the file, the tensor and what was expected.</summary>
public sealed class SafeTensorsFormatException : IOException
{
    public SafeTensorsFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>One tensor's header entry, already validated against the data buffer.</summary>
internal sealed record SafeTensorsEntry(string Name, SafeTensorsDType DType, int[] Shape, int Numel, long Begin, long End);

/// <summary>
/// Parses and validates the JSON header completely before any tensor memory is allocated, so a truncated or
/// hostile file costs at most the header bytes (capped at 100 MB, like the reference implementation).
/// </summary>
internal static class SafeTensorsHeader
{
    public const long MaxHeaderBytes = 100_000_000;
    public const string MetadataKey = "__metadata__";

    /// <summary>JSON nesting the header may have: serde_json's recursion limit, which the safetensors crate parses with.</summary>
    public const int MaxJsonDepth = 128;

    /// <summary>Checks the 8-byte length prefix against the file size and returns the header length.</summary>
    public static int ReadHeaderLength(ReadOnlySpan<byte> prefix, long fileLength, string source)
    {
        if (fileLength < 8)
            throw new SafeTensorsFormatException($"{source}: file has {fileLength} bytes, too short for the 8-byte header length of a safetensors file");
        ulong n = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (n > MaxHeaderBytes)
            throw new SafeTensorsFormatException($"{source}: header length {n} exceeds the limit of {MaxHeaderBytes} bytes (not a safetensors file, or corrupt)");
        if ((long)n > fileLength - 8)
            throw new SafeTensorsFormatException($"{source}: header length {n} runs past the end of the file ({fileLength} bytes, so at most {fileLength - 8} header bytes)");
        return (int)n;
    }

    /// <summary>Parses the header JSON; entries come back in header order, each checked against a buffer of <paramref name="bufferLength"/> bytes.</summary>
    public static (List<SafeTensorsEntry> Entries, Dictionary<string, string> Metadata) Parse(ReadOnlyMemory<byte> json, long bufferLength, string source)
    {
        // JsonDocument checks UTF-8 lazily (when a string is read); check it all up front instead.
        if (!System.Text.Unicode.Utf8.IsValid(json.Span))
            throw new SafeTensorsFormatException($"{source}: header is not valid UTF-8");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = MaxJsonDepth });
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException($"{source}: header is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException($"{source}: header must be a JSON object, got {Kind(root)}");
            var entries = new List<SafeTensorsEntry>();
            var metadata = new Dictionary<string, string>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var prop in root.EnumerateObject())
            {
                if (!seen.Add(prop.Name))
                    throw new SafeTensorsFormatException($"{source}: duplicate entry '{MessageText.Name(prop.Name)}' in the header");
                if (prop.Name == MetadataKey) ReadMetadata(prop.Value, metadata, source);
                else entries.Add(ReadEntry(prop.Name, prop.Value, bufferLength, source));
            }
            CheckCoverage(entries, bufferLength, source);
            return (entries, metadata);
        }
    }

    private static void ReadMetadata(JsonElement value, Dictionary<string, string> metadata, string source)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{source}: {MetadataKey} must be an object of strings, got {Kind(value)}");
        foreach (var kv in value.EnumerateObject())
        {
            if (kv.Value.ValueKind != JsonValueKind.String)
                throw new SafeTensorsFormatException($"{source}: {MetadataKey} entry '{MessageText.Name(kv.Name)}' must be a string, got {Kind(kv.Value)}");
            if (!metadata.TryAdd(kv.Name, kv.Value.GetString()!))
                throw new SafeTensorsFormatException($"{source}: duplicate {MetadataKey} entry '{MessageText.Name(kv.Name)}'");
        }
    }

    private static SafeTensorsEntry ReadEntry(string name, JsonElement e, long bufferLength, string source)
    {
        string where = $"{source}: tensor '{MessageText.Name(name)}'";
        if (e.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{where}: entry must be an object with dtype, shape and data_offsets, got {Kind(e)}");

        var dtypeEl = Field(e, "dtype", where);
        if (dtypeEl.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException($"{where}: dtype must be a string, got {Kind(dtypeEl)}");
        string dtypeName = dtypeEl.GetString()!;
        if (!DTypes.TryParse(dtypeName, out var dtype))
            throw new SafeTensorsFormatException($"{where}: unknown dtype '{MessageText.Name(dtypeName)}' (supported: {DTypes.Names})");

        var shapeEl = Field(e, "shape", where);
        if (shapeEl.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException($"{where}: shape must be an array of integers, got {Kind(shapeEl)}");
        var shape = new int[shapeEl.GetArrayLength()];
        int d = 0;
        foreach (var dim in shapeEl.EnumerateArray())
        {
            if (dim.ValueKind != JsonValueKind.Number || !dim.TryGetInt64(out long v))
                throw new SafeTensorsFormatException($"{where}: shape dimension {d} must be an integer, got {Truncate(dim.GetRawText())}");
            if (v < 0 || v > int.MaxValue)
                throw new SafeTensorsFormatException($"{where}: shape dimension {d} is {v}, expected 0..{int.MaxValue}");
            shape[d++] = (int)v;
        }
        long numel = CountElements(shape, where);

        var offEl = Field(e, "data_offsets", where);
        if (offEl.ValueKind != JsonValueKind.Array || offEl.GetArrayLength() != 2)
            throw new SafeTensorsFormatException($"{where}: data_offsets must be an array [begin, end], got {Truncate(offEl.GetRawText())}");
        long begin = Offset(offEl[0], "begin", where), end = Offset(offEl[1], "end", where);
        if (end < begin)
            throw new SafeTensorsFormatException($"{where}: data_offsets [{begin}, {end}] end before they begin");
        if (end > bufferLength)
            throw new SafeTensorsFormatException($"{where}: data_offsets [{begin}, {end}] run past the end of the data buffer ({bufferLength} bytes)");
        long need = numel * DTypes.SizeOf(dtype);
        if (need != end - begin)
            throw new SafeTensorsFormatException($"{where}: shape {Shapes.Format(shape)} needs {need} bytes of {dtype} but data_offsets span {end - begin}");
        return new SafeTensorsEntry(name, dtype, shape, (int)numel, begin, end);
    }

    /// <summary>Element count, refusing counts a float[] cannot hold (without overflowing on the way).</summary>
    private static long CountElements(int[] shape, string where)
    {
        if (Array.IndexOf(shape, 0) >= 0) return 0;
        long n = 1;
        foreach (int s in shape)
        {
            n *= s; // n <= Array.MaxLength and s <= int.MaxValue, so this cannot overflow a long
            if (n > Array.MaxLength)
                throw new SafeTensorsFormatException($"{where}: shape {Shapes.Format(shape)} has more than {Array.MaxLength} elements, the most a tensor can hold");
        }
        return n;
    }

    private static long Offset(JsonElement v, string which, string where)
    {
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out long x) || x < 0)
            throw new SafeTensorsFormatException($"{where}: data_offsets {which} must be a non-negative integer, got {Truncate(v.GetRawText())}");
        return x;
    }

    private static JsonElement Field(JsonElement e, string field, string where)
    {
        JsonElement found = default;
        int count = 0;
        foreach (var p in e.EnumerateObject())
            if (p.Name == field) { found = p.Value; count++; }
        if (count == 0) throw new SafeTensorsFormatException($"{where}: missing field '{field}'");
        if (count > 1) throw new SafeTensorsFormatException($"{where}: field '{field}' appears {count} times");
        return found;
    }

    /// <summary>The tensors must tile the buffer exactly: no overlaps, no holes, no trailing bytes.</summary>
    private static void CheckCoverage(List<SafeTensorsEntry> entries, long bufferLength, string source)
    {
        var sorted = entries.OrderBy(x => x.Begin).ThenBy(x => x.End).ToList();
        long expected = 0;
        SafeTensorsEntry? prev = null;
        foreach (var x in sorted)
        {
            if (x.Begin < expected)
                throw new SafeTensorsFormatException(
                    $"{source}: tensor '{MessageText.Name(x.Name)}' data_offsets [{x.Begin}, {x.End}] overlap tensor '{MessageText.Name(prev!.Name)}' [{prev.Begin}, {prev.End}]");
            if (x.Begin > expected)
                throw new SafeTensorsFormatException(
                    $"{source}: tensor '{MessageText.Name(x.Name)}' starts at byte {x.Begin} but the previous tensor ends at {expected}; bytes [{expected}, {x.Begin}) belong to no tensor");
            expected = x.End;
            prev = x;
        }
        if (expected != bufferLength)
            throw new SafeTensorsFormatException(
                $"{source}: the data buffer has {bufferLength} bytes but the tensors cover only the first {expected}");
    }

    private static string Kind(JsonElement e) => e.ValueKind.ToString().ToLowerInvariant();
    private static string Truncate(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
