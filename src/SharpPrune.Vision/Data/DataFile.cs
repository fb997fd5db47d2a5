using System.Buffers.Binary;
using System.IO.Compression;
using SharpPrune.IO;

namespace SharpPrune.Vision.Data;

/// <summary>
/// Says how many bytes a file whose first bytes are <paramref name="header"/> must have in all, or null when the
/// header is not valid (the format's reader then reports what is wrong with it). Throws for sizes no file may have.
/// </summary>
internal delegate long? DeclaredLength(ReadOnlySpan<byte> header);

/// <summary>The contents of a data file, gunzipped when it starts with the gzip magic bytes 1f 8b.</summary>
internal readonly record struct DataFile(string Path, ReadOnlyMemory<byte> Bytes, bool Compressed)
{
    /// <summary>File name for error messages (the directory is usually noise there).</summary>
    public string FileName => System.IO.Path.GetFileName(Path);

    /// <summary>"file" or "decompressed file", for size complaints.</summary>
    public string What => Compressed ? "decompressed file" : "file";

    /// <summary>
    /// Reads <paramref name="path"/>. A gzip file is decompressed only as far as its content may go: the first
    /// <paramref name="headerLength"/> bytes, then up to one byte past the length they declare (so a format error
    /// about trailing bytes can still be reported) and never past <paramref name="maxLength"/>. A small hostile .gz
    /// that would expand to gigabytes costs at most the declared size.
    /// </summary>
    public static DataFile Read(string path, int headerLength, DeclaredLength declared, long maxLength)
    {
        var info = InputFile.RequireRegular(path, "a data file", System.IO.Path.GetFileName(path));
        if (info.Length > Array.MaxLength)
            throw new InvalidDataException($"{System.IO.Path.GetFileName(path)}: {info.Length} bytes, more than one array can hold");
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return new DataFile(path, raw, false);
        // Decompression stops one byte past the declared size; more than that is reported here, not by the format.
        return new DataFile(path, Gunzip(path, raw, headerLength, declared, Math.Min(maxLength, Array.MaxLength)), true);
    }

    private static ReadOnlyMemory<byte> Gunzip(string path, byte[] raw, int headerLength, DeclaredLength declared, long maxLength)
    {
        string name = System.IO.Path.GetFileName(path);
        var output = new MemoryStream();
        using var gz = new GZipStream(new MemoryStream(raw, writable: false), CompressionMode.Decompress);
        if (CopyAtMost(gz, output, headerLength, raw, path) == headerLength)
        {
            long? expected = declared(output.GetBuffer().AsSpan(0, headerLength));
            if (expected is long n)
            {
                if (n > maxLength)
                    throw new InvalidDataException($"{name}: its header declares {n:N0} bytes, more than the {maxLength:N0} a file of this kind may have");
                // One byte more than declared is enough to know there are trailing bytes.
                // Room for the declared size, but no more than a plausible expansion of what is there: a header may lie.
                output.Capacity = (int)Math.Min(n + 1, Math.Max(1 << 16, 8L * raw.Length));
                CopyAtMost(gz, output, n + 1 - headerLength, raw, path);
                if (output.Length > n)
                    throw new InvalidDataException(
                        $"{name}: decompresses to more than the {n:N0} bytes its header declares (decompression stopped there): trailing data, or a corrupt header");
                if (output.Length == n) CheckTrailer(name, raw, output);
            }
        }
        return new ReadOnlyMemory<byte>(output.GetBuffer(), 0, (int)output.Length);
    }

    /// <summary>
    /// .NET's GZipStream ends quietly when the file stops inside the 8-byte trailer, so a truncated file would pass
    /// unchecked: compare the trailer's CRC-32 and size with the data ourselves (one gzip member, as the datasets ship).
    /// </summary>
    private static void CheckTrailer(string name, byte[] raw, MemoryStream output)
    {
        var data = output.GetBuffer().AsSpan(0, (int)output.Length);
        uint storedCrc = raw.Length >= 18 ? BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 8)) : 0;
        uint storedSize = raw.Length >= 18 ? BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 4)) : 0;
        if (raw.Length < 18 || storedSize != (uint)data.Length || storedCrc != Crc32.Compute(data))
            throw new InvalidDataException(
                $"{name}: the gzip trailer (CRC-32 and size) does not match the {data.Length:N0} decompressed bytes: the file is truncated or corrupt");
    }

    private static long CopyAtMost(Stream gz, MemoryStream to, long count, byte[] raw, string path)
    {
        var buffer = new byte[1 << 16];
        long done = 0;
        while (done < count)
        {
            int n;
            try { n = gz.Read(buffer, 0, (int)Math.Min(buffer.Length, count - done)); }
            catch (InvalidDataException e)
            {
                throw new InvalidDataException($"{System.IO.Path.GetFileName(path)}: {DiagnoseCorruption(raw, to.Length + (long)buffer.Length + 1)} ({path})", e);
            }
            if (n == 0) break;
            to.Write(buffer, 0, n);
            done += n;
        }
        return done;
    }

    /// <summary>
    /// .NET reports every zlib data error as "unsupported compression method". Tell a failed CRC-32 check (the data
    /// inflates completely, to the size the trailer records, but its checksum differs) from a broken deflate stream
    /// by inflating the single member again without the gzip layer, at most <paramref name="limit"/> bytes.
    /// </summary>
    private static string DiagnoseCorruption(byte[] raw, long limit)
    {
        var output = new MemoryStream();
        bool inflated = false;
        if (raw.Length >= 18 && GzipHeaderLength(raw) is int start && start <= raw.Length - 8)
        {
            try
            {
                using var deflate = new DeflateStream(new MemoryStream(raw, start, raw.Length - 8 - start, writable: false), CompressionMode.Decompress);
                var buffer = new byte[1 << 16];
                int n;
                while (output.Length < limit && (n = deflate.Read(buffer, 0, buffer.Length)) > 0) output.Write(buffer, 0, n);
                inflated = output.Length < limit;
            }
            catch (InvalidDataException) { }
        }
        if (inflated)
        {
            uint storedCrc = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 8));
            uint storedSize = BinaryPrimitives.ReadUInt32LittleEndian(raw.AsSpan(raw.Length - 4));
            var data = output.GetBuffer().AsSpan(0, (int)output.Length);
            uint crc = Crc32.Compute(data);
            if ((uint)data.Length == storedSize && crc != storedCrc)
                return $"gzip CRC-32 check failed: the {data.Length:N0} decompressed bytes have CRC-32 0x{crc:X8} but the gzip trailer records 0x{storedCrc:X8} (the file is corrupt)";
            if ((uint)data.Length != storedSize)
                return $"corrupt gzip data: the stream inflates to {data.Length:N0} bytes but the gzip trailer records {storedSize:N0}";
        }
        return "corrupt gzip data: the compressed stream is invalid";
    }

    /// <summary>Length of the gzip member header (RFC 1952: 10 bytes plus the optional fields its flags announce), or null.</summary>
    private static int? GzipHeaderLength(byte[] b)
    {
        if (b.Length < 10 || b[2] != 8) return null;
        int flags = b[3], pos = 10;
        if ((flags & 4) != 0)
        {
            if (pos + 2 > b.Length) return null;
            pos += 2 + (b[pos] | b[pos + 1] << 8);
        }
        foreach (int flag in new[] { 8, 16 }) // file name, comment: zero-terminated
            if ((flags & flag) != 0)
            {
                while (pos < b.Length && b[pos] != 0) pos++;
                pos++;
            }
        if ((flags & 2) != 0) pos += 2;
        return pos <= b.Length ? pos : null;
    }
}
