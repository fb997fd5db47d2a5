using SharpPrune.IO;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SharpPrune.Vision.Training;

/// <summary>
/// Everything that determines a training run. Saved as JSON in every checkpoint's metadata
/// (<see cref="CheckpointKeys.Config"/>) so that <c>--resume</c> continues with exactly the same settings.
/// </summary>
public sealed record TrainConfig
{
    [JsonPropertyName("model")] public required string Model { get; init; }
    [JsonPropertyName("dataset")] public required string Dataset { get; init; }
    [JsonPropertyName("num_classes")] public required int NumClasses { get; init; }
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 160;
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 128;
    /// <summary>sgd, adam or adamw.</summary>
    [JsonPropertyName("optimizer")] public string Optimizer { get; init; } = "sgd";
    [JsonPropertyName("lr")] public double Lr { get; init; } = 0.1;
    [JsonPropertyName("momentum")] public double Momentum { get; init; } = 0.9;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 1e-4;
    /// <summary>See <see cref="LrSchedule.Parse"/>: step:0.5,0.75 | multistep:80,120 | cosine | none.</summary>
    [JsonPropertyName("schedule")] public string Schedule { get; init; } = "step:0.5,0.75";
    [JsonPropertyName("seed")] public ulong Seed { get; init; } = 1;
    [JsonPropertyName("label_smoothing")] public float LabelSmoothing { get; init; }
    /// <summary>Network slimming (Liu et al. 2017): λ of the L1 penalty λ·Σ|γ| on every BatchNorm scale, added to
    /// the gradient as λ·sign(γ) (as the paper's code), so BN-scale channel pruning has small γ to find. 0: off.</summary>
    [JsonPropertyName("bn_l1")] public double BnL1 { get; init; }
    /// <summary>Train on the first N training images only (quick runs, tests).</summary>
    [JsonPropertyName("limit_train")] public int? LimitTrain { get; init; }
    /// <summary>Evaluate on the first N test images only.</summary>
    [JsonPropertyName("limit_test")] public int? LimitTest { get; init; }
    /// <summary>Where the dataset was read from (null: the default location), so that a resumed run reads the same files.</summary>
    [JsonPropertyName("data_dir")] public string? DataDir { get; init; }
    /// <summary>The checkpoint whose weights the run started from (pruned-model retraining), if any.</summary>
    [JsonPropertyName("init_from")] public string? InitFrom { get; init; }
    /// <summary>Gradual pruning during the run (Zhu &amp; Gupta's AGP), as given to <c>--agp</c>; null: none.</summary>
    [JsonPropertyName("agp")] public string? Agp { get; init; }

    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = false,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static TrainConfig FromJson(string json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainConfig>(json, JsonOptions)
                   ?? throw new InvalidDataException($"{source}: training configuration is null");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: training configuration is not valid JSON ({e.Message})", e);
        }
    }

    /// <summary>Checks ranges; throws ArgumentException naming the setting, its valid range and the value.</summary>
    public void Validate()
    {
        Check(Epochs >= 1, $"epochs must be >= 1, got {Epochs}");
        Check(BatchSize >= 1, $"batch size must be >= 1, got {BatchSize}");
        Check(NumClasses >= 1, $"number of classes must be >= 1, got {NumClasses}");
        Check(Lr > 0 && double.IsFinite(Lr), $"learning rate must be > 0, got {Lr}");
        Check(Momentum >= 0 && Momentum < 1, $"momentum must be in [0, 1), got {Momentum}");
        Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), $"weight decay must be >= 0, got {WeightDecay}");
        Check(BnL1 >= 0 && double.IsFinite(BnL1), $"bn-l1 must be >= 0, got {BnL1}");
        Check(LabelSmoothing >= 0 && LabelSmoothing <= 1, $"label smoothing must be in [0, 1], got {LabelSmoothing}");
        Check(LimitTrain is null or >= 1, $"limit-train must be >= 1, got {LimitTrain}");
        Check(LimitTest is null or >= 1, $"limit-test must be >= 1, got {LimitTest}");
        Check(Optimizers.Names.Contains(Optimizer), $"unknown optimizer '{Optimizer}'; valid: {string.Join(", ", Optimizers.Names)}");
        LrSchedule.Parse(Schedule, Epochs); // throws with the accepted forms
    }

    private static void Check(bool ok, string message)
    {
        if (!ok) throw new ArgumentException(message);
    }
}
