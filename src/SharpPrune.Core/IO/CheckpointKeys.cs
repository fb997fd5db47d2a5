using System.Globalization;
namespace SharpPrune.IO;

/// <summary>
/// Every metadata key of a checkpoint, in one place: those <see cref="Checkpoint"/> itself writes (format version,
/// optimizer and scheduler state) and those the trainer and the CLI write and read (model, dataset, epoch, …).
/// Every value is a string; numbers use invariant culture, doubles round-trip.
/// </summary>
public static class CheckpointKeys
{
    /// <summary>Prefix of the optimizer's hyper-parameters (metadata) and state tensors.</summary>
    public const string OptimizerPrefix = "optimizer.";
    /// <summary>Prefix of the LR scheduler's state (metadata).</summary>
    public const string SchedulerPrefix = "scheduler.";
    /// <summary>Prefix of every key <see cref="Checkpoint"/> reserves for itself.</summary>
    public const string ReservedPrefix = "sharpprune.";
    /// <summary>The checkpoint format version (<see cref="FormatVersion"/>).</summary>
    public const string FormatKey = ReservedPrefix + "checkpoint";
    public const string FormatVersion = "1";

    /// <summary>Keys <see cref="Checkpoint"/> writes itself (optimizer/scheduler state, format version): a caller may not set them.</summary>
    public static bool IsReserved(string key) =>
        key.StartsWith(OptimizerPrefix, StringComparison.Ordinal) || key.StartsWith(SchedulerPrefix, StringComparison.Ordinal)
        || key.StartsWith(ReservedPrefix, StringComparison.Ordinal);

    /// <summary>The zoo name of the model ("resnet56"): what <c>--load</c> rebuilds without <c>--model</c>.</summary>
    public const string Model = "model";
    public const string Dataset = "dataset";
    public const string NumClasses = "num_classes";
    /// <summary>Number of completed epochs.</summary>
    public const string Epoch = "epoch";
    /// <summary>Best test accuracy so far, percent.</summary>
    public const string BestAcc = "best_acc";
    /// <summary>The epoch (1-based) whose weights best.safetensors holds.</summary>
    public const string BestEpoch = "best_epoch";
    /// <summary>The saved epoch's <c>log.jsonl</c> line, so that resume can restore a line a crash kept from the log.</summary>
    public const string EpochLog = "epoch_log";
    /// <summary>Test accuracy after the saved epoch, percent.</summary>
    public const string TestAcc = "test_acc";
    /// <summary>The <see cref="TrainConfig"/> as JSON.</summary>
    public const string Config = "train_config";
    /// <summary>Kernel thread count of the run: results are bit-identical only with the same count.</summary>
    public const string Threads = "threads";
    /// <summary><see cref="Generator.Default"/>'s state (see <see cref="Checkpoint.FormatRngState"/>).</summary>
    public const string DefaultRng = "rng.default";

    /// <summary>Every layer's channel widths as JSON (Vision's ModelArchitecture): how a structured-pruned (shrunk)
    /// model is rebuilt before its weights load.</summary>
    public const string Architecture = "architecture";

    /// <summary>An imported graph's structure as versioned JSON (Onnx's GraphSpec): how a model imported from ONNX
    /// is rebuilt before its weights load. A checkpoint holds this or <see cref="Architecture"/>, never both.</summary>
    public const string Graph = "graph";

    public const string LastFile = "last.safetensors";
    public const string BestFile = "best.safetensors";

    public static string Format(int v) => v.ToString(CultureInfo.InvariantCulture);
    public static string Format(double v) => v.ToString("R", CultureInfo.InvariantCulture);

    public static int ParseInt(CheckpointData c, string key) =>
        int.TryParse(Required(c, key), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v)
            ? v : throw new InvalidDataException($"{c.SourceName}: metadata '{key}' is not an integer: '{MessageText.Name(c.Get(key))}'");

    public static double ParseDouble(CheckpointData c, string key) =>
        double.TryParse(Required(c, key), NumberStyles.Float, CultureInfo.InvariantCulture, out double v)
            ? v : throw new InvalidDataException($"{c.SourceName}: metadata '{key}' is not a number: '{MessageText.Name(c.Get(key))}'");

    public static string Required(CheckpointData c, string key) =>
        c.Get(key) ?? throw new InvalidDataException($"{c.SourceName}: metadata has no '{key}' (not a checkpoint written by 'sharpprune train'?)");
}
