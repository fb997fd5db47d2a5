using SharpPrune.IO;

namespace SharpPrune.Tests;

/// <summary>
/// Access to tests/fixtures/** (copied next to the test assembly by the csproj). Fixture files are written by
/// the scripts in scripts/ with /usr/bin/python3 (torch 1.13) and committed.
/// </summary>
public static class Fixtures
{
    /// <summary>Full path of a fixture, e.g. Fixtures.Path("optim", "optim_cases.safetensors").</summary>
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine(new[] { AppContext.BaseDirectory, "fixtures" }.Concat(parts).ToArray());

    /// <summary>Loads a safetensors fixture; a missing file names the path and how fixtures are made.</summary>
    public static SafeTensorsFile Load(params string[] parts)
    {
        string path = Path(parts);
        if (!File.Exists(path))
            throw new FileNotFoundException($"fixture '{path}' not found; fixtures live in tests/fixtures/ and are made by scripts/make_*_fixtures.py (run with /usr/bin/python3)", path);
        return SafeTensors.Load(path);
    }

    /// <summary>The tensor called <paramref name="name"/>; throws naming the tensors that do exist.</summary>
    public static Tensor Get(this SafeTensorsFile f, string name)
    {
        foreach (var kv in f.Tensors)
            if (kv.Key == name) return kv.Value;
        var names = f.Tensors.Select(kv => kv.Key).Take(20).ToList();
        throw new KeyNotFoundException($"fixture has no tensor '{name}'; it has {f.Tensors.Count}: {string.Join(", ", names)}{(f.Tensors.Count > 20 ? ", …" : "")}");
    }

    /// <summary>True and the tensor when present.</summary>
    public static bool TryGet(this SafeTensorsFile f, string name, out Tensor tensor)
    {
        foreach (var kv in f.Tensors)
            if (kv.Key == name) { tensor = kv.Value; return true; }
        tensor = null!;
        return false;
    }
}
