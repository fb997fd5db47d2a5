using System.Globalization;
using SharpPrune.NN;
using SharpPrune.Optim;

namespace SharpPrune.IO;

/// <summary>
/// A training checkpoint in one safetensors file: the model's state dict under its own keys, the optimizer's
/// state tensors under "optimizer.&lt;index&gt;.&lt;name&gt;", and string metadata holding the optimizer's
/// hyperparameters ("optimizer.*"), the scheduler's state ("scheduler.*"), the format version and whatever the caller
/// adds (model name, epoch, RNG state, …; every key is in <see cref="CheckpointKeys"/>). Written atomically, so an interrupted save keeps the old file.
/// </summary>
public static class Checkpoint
{
    private const string OptimizerPrefix = CheckpointKeys.OptimizerPrefix;
    private const string SchedulerPrefix = CheckpointKeys.SchedulerPrefix;

    public static void Save(string path, Module model, Optimizer? optimizer, LRScheduler? scheduler, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        var meta = new Dictionary<string, string>();
        if (metadata != null)
            foreach (var (k, v) in metadata)
            {
                if (CheckpointKeys.IsReserved(k))
                    throw new ArgumentException($"metadata key '{k}' is reserved (keys starting with '{OptimizerPrefix}', '{SchedulerPrefix}' or '{CheckpointKeys.ReservedPrefix}' are written by Checkpoint)", nameof(metadata));
                meta[k] = v;
            }
        meta[CheckpointKeys.FormatKey] = CheckpointKeys.FormatVersion;

        var tensors = new List<KeyValuePair<string, Tensor>>();
        foreach (var kv in model.StateDict())
        {
            if (kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                throw new ArgumentException($"model state key '{kv.Key}' collides with the optimizer prefix '{OptimizerPrefix}' of a checkpoint");
            tensors.Add(kv);
        }
        if (optimizer != null)
        {
            foreach (var (k, v) in optimizer.Hyperparameters()) meta[OptimizerPrefix + k] = v;
            foreach (var (k, t) in optimizer.StateTensors()) tensors.Add(new(OptimizerPrefix + k, t));
        }
        if (scheduler != null)
            foreach (var (k, v) in scheduler.StateDict()) meta[SchedulerPrefix + k] = v;
        SafeTensors.Save(path, tensors, meta);
    }

    public static CheckpointData Load(string path)
    {
        var file = SafeTensors.Load(path);
        var data = new CheckpointData { Metadata = file.Metadata, SourceName = path };
        foreach (var kv in file.Tensors)
        {
            if (kv.Key.StartsWith(OptimizerPrefix, StringComparison.Ordinal))
                data.OptimizerState.Add(new(kv.Key[OptimizerPrefix.Length..], kv.Value));
            else
                data.Model.Add(kv);
        }
        return data;
    }

    /// <summary>Text form of a <see cref="Generator"/> state for checkpoint metadata (round-trips exactly).</summary>
    public static string FormatRngState(Generator generator) =>
        string.Join(",", generator.GetState().Select(x => x.ToString(CultureInfo.InvariantCulture)));

    public static void RestoreRngState(Generator generator, string text)
    {
        var parts = text.Split(',');
        var state = new ulong[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!ulong.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out state[i]))
                throw new FormatException($"RNG state '{text}' is not a comma-separated list of unsigned integers");
        generator.SetState(state);
    }
}

/// <summary>A loaded checkpoint. <see cref="OptimizerState"/> keys have the "optimizer." prefix removed.</summary>
public sealed class CheckpointData
{
    public List<KeyValuePair<string, Tensor>> Model { get; init; } = new();
    public List<KeyValuePair<string, Tensor>> OptimizerState { get; init; } = new();
    public Dictionary<string, string> Metadata { get; init; } = new();
    public string SourceName { get; init; } = "checkpoint";

    public bool HasOptimizer => Metadata.ContainsKey(CheckpointKeys.OptimizerPrefix + "type");
    public bool HasScheduler => Metadata.ContainsKey(CheckpointKeys.SchedulerPrefix + "type");

    /// <summary>A metadata value, or null when absent.</summary>
    public string? Get(string key) => Metadata.TryGetValue(key, out var v) ? v : null;

    /// <summary>Loads the model weights (see <see cref="Module.LoadStateDict"/>).</summary>
    public LoadResult RestoreModel(Module model, bool strict = true) => model.LoadStateDict(Model, strict);

    /// <summary>Restores hyperparameters (learning rate and step count included) and state buffers.</summary>
    public void RestoreOptimizer(Optimizer optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        if (!HasOptimizer) throw new InvalidOperationException($"{SourceName}: the checkpoint holds no optimizer state");
        try
        {
            // Hyperparameters first (amsgrad decides which state is required); undo them if the state is rejected.
            var before = optimizer.Hyperparameters();
            var initialBefore = optimizer.InitialLearningRate;
            optimizer.LoadHyperparameters(Section(CheckpointKeys.OptimizerPrefix));
            try { optimizer.LoadStateTensors(OptimizerState); }
            catch
            {
                optimizer.LoadHyperparameters(before);
                optimizer.InitialLearningRate = initialBefore;
                throw;
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new InvalidDataException($"{SourceName}: cannot restore the optimizer: {e.Message}", e);
        }
    }

    public void RestoreScheduler(LRScheduler scheduler)
    {
        ArgumentNullException.ThrowIfNull(scheduler);
        if (!HasScheduler) throw new InvalidOperationException($"{SourceName}: the checkpoint holds no scheduler state");
        try
        {
            scheduler.LoadStateDict(Section(CheckpointKeys.SchedulerPrefix));
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            throw new InvalidDataException($"{SourceName}: cannot restore the scheduler: {e.Message}", e);
        }
    }

    /// <summary>Model, then optimizer and scheduler when given.</summary>
    public void Restore(Module model, Optimizer? optimizer = null, LRScheduler? scheduler = null, bool strict = true)
    {
        RestoreModel(model, strict);
        if (optimizer != null) RestoreOptimizer(optimizer);
        if (scheduler != null) RestoreScheduler(scheduler);
    }

    private Dictionary<string, string> Section(string prefix) =>
        Metadata.Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
                .ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
}
