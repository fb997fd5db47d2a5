using System.IO.Compression;

namespace SharpPrune.Vision.Data;

/// <summary>The contents of a data file, gunzipped when it starts with the gzip magic bytes 1f 8b.</summary>
internal readonly record struct DataFile(string Path, ReadOnlyMemory<byte> Bytes, bool Compressed)
{
    /// <summary>File name for error messages (the directory is usually noise there).</summary>
    public string FileName => System.IO.Path.GetFileName(Path);

    /// <summary>"file" or "decompressed file", for size complaints.</summary>
    public string What => Compressed ? "decompressed file" : "file";

    public static DataFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        byte[] raw = File.ReadAllBytes(path);
        if (raw.Length < 2 || raw[0] != 0x1f || raw[1] != 0x8b) return new DataFile(path, raw, false);
        return new DataFile(path, Gunzip(path, raw), true);
    }

    private static ReadOnlyMemory<byte> Gunzip(string path, byte[] raw)
    {
        // The gzip trailer's ISIZE (uncompressed size mod 2^32) is only a capacity hint; the stream decides.
        int hint = raw.Length >= 18 ? (int)Math.Min(BitConverter.ToUInt32(raw, raw.Length - 4), 1u << 30) : 0;
        var output = new MemoryStream(Math.Max(hint, raw.Length));
        try
        {
            using var gz = new GZipStream(new MemoryStream(raw, writable: false), CompressionMode.Decompress);
            gz.CopyTo(output);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{System.IO.Path.GetFileName(path)}: corrupt gzip data ({e.Message}) in {path}", e);
        }
        return new ReadOnlyMemory<byte>(output.GetBuffer(), 0, (int)output.Length);
    }
}
