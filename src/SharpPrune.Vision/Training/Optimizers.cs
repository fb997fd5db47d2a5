using SharpPrune.Optim;

namespace SharpPrune.Vision.Training;

/// <summary>The optimizers a run can name.</summary>
public static class Optimizers
{
    public static IReadOnlyList<string> Names { get; } = ["sgd", "adam", "adamw"];

    /// <summary>SGD uses momentum and weight decay as given; Adam/AdamW use PyTorch's betas and eps, and the given weight decay.</summary>
    public static Optimizer Create(TrainConfig config, IEnumerable<Tensor> parameters) => config.Optimizer switch
    {
        "sgd" => new SGD(parameters, config.Lr, momentum: config.Momentum, weightDecay: config.WeightDecay),
        "adam" => new Adam(parameters, config.Lr, weightDecay: config.WeightDecay),
        "adamw" => new AdamW(parameters, config.Lr, weightDecay: config.WeightDecay),
        _ => throw new ArgumentException($"unknown optimizer '{config.Optimizer}'; valid: {string.Join(", ", Names)}"),
    };
}
