using System.Text.Json;
using System.Text.Json.Serialization;
using SharpPrune.IO;

namespace SharpPrune.Vision.Training;

/// <summary>One line of <c>log.jsonl</c>: the results of one finished epoch. Accuracies are percentages; a non-finite
/// loss (a diverged run) is written as <c>null</c> and read back as NaN.</summary>
public sealed record EpochLog(
    [property: JsonPropertyName("epoch")] int Epoch,
    [property: JsonPropertyName("lr")] double Lr,
    [property: JsonPropertyName("train_loss")] double TrainLoss,
    [property: JsonPropertyName("train_acc")] double TrainAcc,
    [property: JsonPropertyName("test_loss")] double TestLoss,
    [property: JsonPropertyName("test_acc")] double TestAcc,
    [property: JsonPropertyName("epoch_seconds")] double EpochSeconds,
    [property: JsonPropertyName("images_per_second")] double ImagesPerSecond)
{
    private static JsonSerializerOptions Options => FiniteOrNullConverter.Options;

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static EpochLog FromJson(string line) =>
        JsonSerializer.Deserialize<EpochLog>(line, Options) ?? throw new JsonException($"not an epoch record: {line}");
}

/// <summary>The JSON-lines training log, one <see cref="EpochLog"/> per line.</summary>
public static class EpochLogFile
{
    public const string FileName = "log.jsonl";

    /// <summary>Adds a line by rewriting the file atomically: a crash mid-write leaves the previous log whole.</summary>
    public static void Append(string path, EpochLog entry)
    {
        string existing = File.Exists(path) ? File.ReadAllText(path) : "";
        if (existing.Length > 0 && !existing.EndsWith('\n')) existing += "\n";
        AtomicFile.WriteAllText(path, existing + entry.ToJson() + "\n");
    }

    public static List<EpochLog> Read(string path)
    {
        var result = new List<EpochLog>();
        int lineNo = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNo++;
            if (line.Length == 0) continue;
            try { result.Add(EpochLog.FromJson(line)); }
            catch (JsonException e) { throw new InvalidDataException($"{path}:{lineNo}: not a valid epoch record ({e.Message})", e); }
        }
        return result;
    }

    /// <summary>
    /// Keeps only epochs 1..<paramref name="completedEpochs"/>: on resume, lines written after the checkpoint the run
    /// continues from (a crash between log and checkpoint) would otherwise appear twice. A line cut off by a
    /// crash mid-write is dropped too.
    /// </summary>
    public static void TruncateAfter(string path, int completedEpochs)
    {
        if (!File.Exists(path)) return;
        var kept = new List<string>();
        foreach (var line in File.ReadLines(path))
        {
            if (line.Length == 0) continue;
            EpochLog entry;
            try { entry = EpochLog.FromJson(line); }
            catch (JsonException) { continue; }
            if (entry.Epoch <= completedEpochs) kept.Add(line);
        }
        AtomicFile.WriteAllText(path, kept.Count == 0 ? "" : string.Join("\n", kept) + "\n");
    }
}
