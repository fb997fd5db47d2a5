namespace SharpPrune.Vision.Data;

/// <summary>Finds the folder that holds a dataset's files: the given directory or one of its usual subfolders.</summary>
internal static class DataDirectory
{
    /// <summary>Path of <paramref name="file"/> in <paramref name="dir"/>, raw preferred over ".gz"; null if neither exists.</summary>
    public static string? Find(string dir, string file, bool allowGz = true)
    {
        string raw = Path.Combine(dir, file);
        if (File.Exists(raw)) return raw;
        return allowGz && File.Exists(raw + ".gz") ? raw + ".gz" : null;
    }

    public static bool HasAll(string dir, IEnumerable<string> files, bool allowGz) =>
        Directory.Exists(dir) && files.All(f => Find(dir, f, allowGz) is not null);

    /// <summary>The first of <paramref name="dataDir"/> and its <paramref name="subdirs"/> holding every file, or a
    /// FileNotFoundException that lists the expected files, the places searched and what was found there.</summary>
    public static string Resolve(string dataset, string dataDir, string[] subdirs, string[] files, bool allowGz)
    {
        ArgumentNullException.ThrowIfNull(dataDir);
        if (!Directory.Exists(dataDir))
            throw new DirectoryNotFoundException($"{dataset}: data directory '{dataDir}' does not exist");
        var candidates = new[] { dataDir }.Concat(subdirs.Select(s => Path.Combine(dataDir, s))).ToArray();
        foreach (var dir in candidates)
            if (HasAll(dir, files, allowGz)) return dir;

        var partial = candidates
            .Where(Directory.Exists)
            .Select(d => (Dir: d, Missing: files.Where(f => Find(d, f, allowGz) is null).ToArray()))
            .Where(x => x.Missing.Length < files.Length)
            .Select(x => $" In {x.Dir} these are missing: {string.Join(", ", x.Missing)}.");
        throw new FileNotFoundException(
            $"{dataset}: expected {string.Join(", ", files)}{(allowGz ? " (raw or .gz)" : "")} in one of: " +
            $"{string.Join(", ", candidates)}.{string.Concat(partial)}");
    }
}
