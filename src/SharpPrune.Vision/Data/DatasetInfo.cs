namespace SharpPrune.Vision.Data;

/// <summary>Static facts about a named dataset: image shape, class count, normalisation constants.</summary>
public sealed record DatasetInfo(string Name, int Channels, int Height, int Width, int NumClasses, float[] Mean, float[] Std)
{
    /// <summary>Whether training uses the CIFAR augmentation (random crop with padding 4 + horizontal flip).</summary>
    public bool IsCifar => Name.StartsWith("cifar", StringComparison.Ordinal);

    /// <summary>Fashion-MNIST padded to 32×32 with the grey channel replicated: 3×32×32 like CIFAR.</summary>
    public const string FashionMnist3x32 = "fashion-mnist-3x32";

    internal static readonly DatasetInfo[] All =
    [
        new("mnist", 1, 28, 28, 10, [0.1307f], [0.3081f]),
        new("fashion-mnist", 1, 28, 28, 10, [0.2860f], [0.3530f]),
        // Fashion-MNIST as CIFAR-shaped images for the CIFAR zoo (VGG, ResNet, AlexNet): each 28×28 image zero-padded
        // by 2 to 32×32 and its grey channel replicated 3 times. Mean/std are fashion-mnist's over the padded image:
        // mean·784/1024, sqrt((std² + mean²)·784/1024 − mean'²).
        new(FashionMnist3x32, 3, 32, 32, 10, [0.21897f, 0.21897f, 0.21897f], [0.33179f, 0.33179f, 0.33179f]),
        new("cifar10", 3, 32, 32, 10, [0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]),
        new("cifar100", 3, 32, 32, 100, [0.5071f, 0.4865f, 0.4409f], [0.2673f, 0.2564f, 0.2762f]),
    ];

    /// <summary>Looks a dataset up by name: case-insensitive, '-' and '_' ignored ("CIFAR-10", "fashion_mnist").</summary>
    public static DatasetInfo Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        string key = Key(name);
        foreach (var info in All)
            if (Key(info.Name) == key) return info;
        throw new ArgumentException(
            $"unknown dataset '{name}'; valid names: {string.Join(", ", All.Select(i => i.Name))}", nameof(name));
    }

    private static string Key(string s) => s.Replace("-", "").Replace("_", "").Trim().ToLowerInvariant();
}
