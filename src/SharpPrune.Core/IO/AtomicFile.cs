using System.Text;

namespace SharpPrune.IO;

/// <summary>
/// Whole-file writes that either fully replace the target or leave it untouched: the content goes to a temp
/// file in the same directory (so the final rename stays on one file system), is flushed to disk, then moved
/// over the target. A crash or exception midway never leaves a half-written checkpoint behind.
/// </summary>
public static class AtomicFile
{
    public static void WriteAllBytes(string path, byte[] bytes)
    {
        ArgumentNullException.ThrowIfNull(bytes);
        Write(path, s => s.Write(bytes, 0, bytes.Length));
    }

    public static void WriteAllText(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        WriteAllBytes(path, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false).GetBytes(text));
    }

    /// <summary>Calls <paramref name="writer"/> with a stream to the temp file; commits only if it returns normally.</summary>
    public static void Write(string path, Action<Stream> writer)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(writer);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        Directory.CreateDirectory(dir);
        if (Directory.Exists(full))
            throw new IOException($"cannot write '{full}': it is a directory");

        string tmp = $"{full}.tmp-{Guid.NewGuid():N}";
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                writer(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
    }

    private static void TryDelete(string tmp)
    {
        // Cleanup must not mask the original exception.
        try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
