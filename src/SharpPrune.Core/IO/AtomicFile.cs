using System.Text;
using System.Text.RegularExpressions;

namespace SharpPrune.IO;

/// <summary>The moments of an <see cref="AtomicFile"/> write at which a crash leaves a different state behind.</summary>
public enum AtomicWriteStep
{
    /// <summary>The empty temp file exists.</summary>
    TempCreated,
    /// <summary>One more chunk of the content is in the temp file (reported after every write call).</summary>
    Wrote,
    /// <summary>The temp file is complete and flushed to disk.</summary>
    Flushed,
    /// <summary>The temp file has replaced the target.</summary>
    Renamed,
}

/// <summary>
/// Whole-file writes that either fully replace the target or leave it untouched: the content goes to a temp
/// file in the same directory (so the final rename stays on one file system), is flushed to disk, then moved
/// over the target. A crash or exception midway never leaves a half-written checkpoint behind; a killed process
/// can leave its temp file (<c>&lt;target&gt;.tmp-&lt;32 hex digits&gt;</c>), which <see cref="DeleteStaleTemps"/> removes.
/// A target that is a symbolic link is written through, as Python's <c>open(path, "wb")</c> (and so
/// <c>torch.save</c>) does: the file it points to is replaced and the link stays.
/// </summary>
public static partial class AtomicFile
{
    private static readonly AsyncLocal<Action<AtomicWriteStep, string>?> Observer = new();

    /// <summary>
    /// For fault-injection tests: called with each <see cref="AtomicWriteStep"/> and the temp file's path during
    /// writes started from the current execution context (async-local, so concurrent tests do not see each other's).
    /// Throwing from it aborts the write at that step, as a crash would (the temp file is then deleted; a killed
    /// process would leave it).
    /// </summary>
    public static Action<AtomicWriteStep, string>? StepObserver
    {
        get => Observer.Value;
        set => Observer.Value = value;
    }

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
        string full = ResolveTarget(Path.GetFullPath(path));
        string dir = Path.GetDirectoryName(full) ?? throw new ArgumentException($"'{path}' has no parent directory", nameof(path));
        Directory.CreateDirectory(dir);
        if (Directory.Exists(full))
            throw new IOException($"cannot write '{full}': it is a directory");

        string tmp = $"{full}{TempInfix}{Guid.NewGuid():N}";
        var observer = StepObserver;
        try
        {
            using (var fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                observer?.Invoke(AtomicWriteStep.TempCreated, tmp);
                if (observer is null) writer(fs);
                else
                {
                    using var observed = new ObservedStream(fs, () => observer(AtomicWriteStep.Wrote, tmp));
                    writer(observed);
                }
                fs.Flush(flushToDisk: true);
            }
            observer?.Invoke(AtomicWriteStep.Flushed, tmp);
            File.Move(tmp, full, overwrite: true);
        }
        catch
        {
            TryDelete(tmp);
            throw;
        }
        observer?.Invoke(AtomicWriteStep.Renamed, tmp);
    }

    /// <summary>
    /// Deletes temp files that interrupted writes of <paramref name="target"/> left next to it: exactly
    /// <c>&lt;target file name&gt;.tmp-&lt;32 hex digits&gt;</c> in the target's directory (the link's target when it is a
    /// symbolic link), nothing else. Returns how many were removed. Do not call it while another process may be
    /// writing the same target.
    /// </summary>
    public static int DeleteStaleTemps(string target)
    {
        ArgumentException.ThrowIfNullOrEmpty(target);
        string full = ResolveTarget(Path.GetFullPath(target));
        string? dir = Path.GetDirectoryName(full);
        if (dir is null || !Directory.Exists(dir)) return 0;
        string prefix = Path.GetFileName(full) + TempInfix;
        int removed = 0;
        foreach (var file in Directory.EnumerateFiles(dir, prefix + "*"))
        {
            string name = Path.GetFileName(file);
            if (name.Length != prefix.Length + 32 || !name.StartsWith(prefix, StringComparison.Ordinal) || !GuidN().IsMatch(name[prefix.Length..]))
                continue;
            try { File.Delete(file); removed++; }
            catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return removed;
    }

    /// <summary>What separates the target's name from the GUID in a temp file's name.</summary>
    public const string TempInfix = ".tmp-";

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex GuidN();

    /// <summary>The file a write of <paramref name="full"/> must replace: the final target of a symbolic link, else itself.</summary>
    private static string ResolveTarget(string full)
    {
        var info = new FileInfo(full);
        if (info.LinkTarget is null) return full;
        var final = info.ResolveLinkTarget(returnFinalTarget: true);
        return final is null ? full : Path.GetFullPath(final.FullName);
    }

    private static void TryDelete(string tmp)
    {
        // Cleanup must not mask the original exception.
        try { File.Delete(tmp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>Reports every write to the observer after passing it on.</summary>
    private sealed class ObservedStream(Stream inner, Action afterWrite) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => inner.Length;
        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));
        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            afterWrite();
        }
        public override void WriteByte(byte value) => Write([value]);
    }
}
