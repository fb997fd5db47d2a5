using System.Runtime.CompilerServices;

namespace SharpPrune.Vision.Data;

public static partial class Datasets
{
    /// <summary>Folder of the shipped sample inside the repository's data/ directory.</summary>
    public const string SampleFolder = "fashion-mnist-sample";

    /// <summary>Environment variable that, when set to an existing directory, overrides <see cref="SampleDirectory"/>.</summary>
    public const string SampleDirectoryVariable = "SHARPPRUNE_SAMPLE_DIR";

    /// <summary>
    /// The repository's data/fashion-mnist-sample, or null if it cannot be found. Searched upwards from the
    /// application's base directory, the current directory and, for builds whose output lives outside the tree,
    /// the directory this source file was compiled from.
    /// </summary>
    public static string? SampleDirectory => FindSampleDirectory();

    private static string? FindSampleDirectory([CallerFilePath] string sourceFile = "")
    {
        string? overridden = Environment.GetEnvironmentVariable(SampleDirectoryVariable);
        if (!string.IsNullOrEmpty(overridden) && Directory.Exists(overridden)) return Path.GetFullPath(overridden);

        string?[] starts = [AppContext.BaseDirectory, Environment.CurrentDirectory, Path.GetDirectoryName(sourceFile)];
        foreach (var start in starts)
        {
            if (string.IsNullOrEmpty(start) || !Path.IsPathRooted(start)) continue;
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, "data", SampleFolder);
                if (DataDirectory.Find(candidate, IdxTestImages) is not null && DataDirectory.Find(candidate, IdxTestLabels) is not null)
                    return candidate;
            }
        }
        return null;
    }

    /// <summary>A directory holding only the test split is treated as the sample when it is the shipped one.</summary>
    private static bool IsSampleDirectory(string dir)
    {
        string full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
        if (Path.GetFileName(full) == SampleFolder) return true;
        string? sample = SampleDirectory;
        return sample is not null && Path.TrimEndingDirectorySeparator(Path.GetFullPath(sample)) == full;
    }
}
