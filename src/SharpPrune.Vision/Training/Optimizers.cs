namespace SharpPrune.Vision.Training;

/// <summary>The optimizers a run can name.</summary>
public static partial class Optimizers
{
    public static IReadOnlyList<string> Names { get; } = ["sgd", "adam", "adamw"];
}
