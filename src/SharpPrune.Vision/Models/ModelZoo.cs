using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>The built-in architectures by name, with their input shape and the dataset they are meant for.</summary>
public static class ModelZoo
{
    private sealed record Entry(Func<int, Generator?, Module> Create, int[] InputShape, string Dataset);

    private static readonly int[] Mnist = { 1, 28, 28 };
    private static readonly int[] Cifar = { 3, 32, 32 };

    private static readonly Dictionary<string, Entry> Entries = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lenet5"] = new((c, g) => new LeNet5(c, g), Mnist, "mnist"),
        ["lenet300"] = new((c, g) => new LeNet300_100(c, g), Mnist, "mnist"),
        ["alexnet"] = new((c, g) => new AlexNet(c, g), Cifar, "cifar10"),
        ["vgg11"] = new((c, g) => new Vgg(11, c, g), Cifar, "cifar10"),
        ["vgg13"] = new((c, g) => new Vgg(13, c, g), Cifar, "cifar10"),
        ["vgg16"] = new((c, g) => new Vgg(16, c, g), Cifar, "cifar10"),
        ["vgg19"] = new((c, g) => new Vgg(19, c, g), Cifar, "cifar10"),
        ["resnet20"] = new((c, g) => new ResNet(20, c, g), Cifar, "cifar10"),
        ["resnet32"] = new((c, g) => new ResNet(32, c, g), Cifar, "cifar10"),
        ["resnet44"] = new((c, g) => new ResNet(44, c, g), Cifar, "cifar10"),
        ["resnet56"] = new((c, g) => new ResNet(56, c, g), Cifar, "cifar10"),
        ["resnet110"] = new((c, g) => new ResNet(110, c, g), Cifar, "cifar10"),
        ["preresnet110"] = new((c, g) => new PreResNet(110, c, g), Cifar, "cifar10"),
    };

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["lenet-300-100"] = "lenet300",
        ["lenet-5"] = "lenet5",
    };

    /// <summary>Canonical model names, in a stable order.</summary>
    public static IReadOnlyList<string> Names { get; } = Entries.Keys.ToArray();

    /// <summary>Builds a freshly initialised model; all randomness comes from <paramref name="generator"/> (default: Generator.Default).</summary>
    public static Module Create(string name, int numClasses = 10, Generator? generator = null)
    {
        if (numClasses < 1) throw new ArgumentOutOfRangeException(nameof(numClasses), $"numClasses must be >= 1, got {numClasses}");
        return Lookup(name).Create(numClasses, generator);
    }

    /// <summary>The input the model expects, (C, H, W).</summary>
    public static int[] InputShape(string name) => (int[])Lookup(name).InputShape.Clone();

    /// <summary>The dataset the model is meant for ("mnist" or "cifar10").</summary>
    public static string DefaultDataset(string name) => Lookup(name).Dataset;

    public static bool Contains(string name) => Entries.ContainsKey(Canonical(name));

    /// <summary>The canonical spelling of a name or alias ("LeNet-300-100" → "lenet300").</summary>
    public static string Canonical(string name) => Aliases.TryGetValue(name.Trim(), out var c) ? c : name.Trim().ToLowerInvariant();

    private static Entry Lookup(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (Entries.TryGetValue(Canonical(name), out var e)) return e;
        throw new ArgumentException($"unknown model '{name}'; valid names: {string.Join(", ", Names)} (aliases: {string.Join(", ", Aliases.Select(a => $"{a.Key} = {a.Value}"))})", nameof(name));
    }
}
