using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpPrune.Cli.Recipes;

/// <summary>A finished step as the journal records it.</summary>
internal sealed record JournalEntry(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("title")] string Title,
    [property: JsonPropertyName("checkpoint")] string? Checkpoint,
    [property: JsonPropertyName("test_acc")] double? TestAcc,
    [property: JsonPropertyName("weight_sparsity")] double? WeightSparsity,
    [property: JsonPropertyName("seconds")] double Seconds);

/// <summary>
/// <c>journal.jsonl</c> in a run's folder: a header line naming the recipe (its SHA-256), then one line per
/// finished step, appended as each finishes. A run started again skips the steps listed and continues with the
/// checkpoint the last one left; a step cut short (no line) runs again, a training step resuming from its own
/// <c>last.safetensors</c>. A torn last line (killed while writing) counts as not written.
/// </summary>
internal sealed class RunJournal
{
    public const string FileName = "journal.jsonl";
    private static readonly JsonSerializerOptions Json = new() { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };
    private sealed record Header([property: JsonPropertyName("recipe")] string Recipe, [property: JsonPropertyName("recipe_sha256")] string Sha256);

    public string Path { get; }
    public List<JournalEntry> Done { get; } = [];

    private RunJournal(string path) => Path = path;

    /// <summary>Opens the journal of <paramref name="dir"/>, creating it; refuses one written for a different recipe.</summary>
    public static RunJournal Open(string dir, Recipe recipe)
    {
        var j = new RunJournal(System.IO.Path.Combine(dir, FileName));
        if (!File.Exists(j.Path))
        {
            Directory.CreateDirectory(dir);
            File.WriteAllText(j.Path, JsonSerializer.Serialize(new Header(recipe.Path, recipe.Sha256)) + "\n");
            return j;
        }
        var lines = File.ReadAllLines(j.Path);
        Header? header = null;
        try { header = lines.Length > 0 ? JsonSerializer.Deserialize<Header>(lines[0]) : null; }
        catch (JsonException) { }
        if (header?.Sha256 is null)
            throw new CliException($"{j.Path} is not a recipe journal; choose another --out or pass --restart");
        if (header.Sha256 != recipe.Sha256)
            throw new CliUsageException($"{dir} holds a run of a different version of the recipe ({header.Recipe}); pass --restart to start it over, or another --out");
        for (int i = 1; i < lines.Length; i++)
        {
            if (lines[i].Length == 0) continue;
            try { if (JsonSerializer.Deserialize<JournalEntry>(lines[i]) is { Id: not null } e) j.Done.Add(e); }
            catch (JsonException) when (i == lines.Length - 1) { } // torn by a kill mid-write
        }
        if (lines.Length > 0 && !File.ReadAllText(j.Path).EndsWith('\n')) File.AppendAllText(j.Path, "\n"); // a torn line ends here
        return j;
    }

    public void Append(JournalEntry e)
    {
        File.AppendAllText(Path, JsonSerializer.Serialize(e, Json) + "\n");
        Done.Add(e);
    }
}
