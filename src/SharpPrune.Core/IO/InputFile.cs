namespace SharpPrune.IO;

/// <summary>Checks made before a reader opens a file, so that a bad path fails with a message instead of a hang.</summary>
public static class InputFile
{
    /// <summary>
    /// Throws unless <paramref name="path"/> is an existing, non-empty regular file. Opening a FIFO blocks until a
    /// writer appears, and a device (/dev/zero) never ends; both report a size of 0, as an empty file does, so
    /// anything of size 0 is refused before it is opened. <paramref name="what"/> names the expected content; messages start with <paramref name="displayName"/> (default: the path).
    /// </summary>
    public static FileInfo RequireRegular(string path, string what, string? displayName = null)
    {
        string shown = displayName ?? path;
        ArgumentException.ThrowIfNullOrEmpty(path);
        var info = new FileInfo(path);
        if (Directory.Exists(path)) throw new IOException($"{shown}: is a directory, expected {what}");
        if (!info.Exists) throw new FileNotFoundException($"{path}: file not found", path);
        if (info.Length == 0)
            throw new InvalidDataException($"{shown}: file is empty or not a regular file (a FIFO, socket or device); expected {what}");
        return info;
    }
}
