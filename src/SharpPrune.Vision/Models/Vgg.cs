using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// VGG with batch norm for 3×32×32 inputs, as in the CIFAR code of "Rethinking the Value of Network Pruning"
/// (cifar/l1-norm-pruning/models/vgg.py), whose VGG-16 has the 14.99M parameters the weight-pruning table
/// quotes (14,987,722 for 10 classes): features = [conv3×3 pad 1 (no bias) → BN → ReLU | 'M' = max-pool 2]
/// per cfg with no final 'M' (2×2 left), then avg-pool 2 → flatten → classifier = Linear(512, 512) →
/// BatchNorm1d(512) → ReLU → Linear(512, classes). (The weight-level folder's VGG — conv bias, single
/// Linear(512, classes) — has 14.73M; it is not the one the table describes.) The reference names the conv
/// stack "feature"; we use "features" (features.N.*, classifier.N.*), the torchvision spelling.
/// Init as the reference: convs N(0, √(2/(9·out))), BatchNorm2d weight 0.5 / bias 0, Linear N(0, 0.01) / bias 0
/// (BatchNorm1d keeps 1 / 0: the reference's isinstance test only matches BatchNorm2d).
/// With <see cref="VggHead.Linear"/> the classifier is the network-slimming repository's single Linear(cfg[-1],
/// classes) instead (<c>classifier.0</c>); <see cref="VggCheckpoints"/> loads that repository's files.
/// </summary>
public sealed class Vgg : Container
{
    private static readonly Dictionary<int, int[]> Configs = new()
    {
        // 0 stands for 'M' (2×2 max-pool).
        [11] = new[] { 64, 0, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512 },
        [13] = new[] { 64, 64, 0, 128, 128, 0, 256, 256, 0, 512, 512, 0, 512, 512 },
        [16] = new[] { 64, 64, 0, 128, 128, 0, 256, 256, 256, 0, 512, 512, 512, 0, 512, 512, 512 },
        [19] = new[] { 64, 64, 0, 128, 128, 0, 256, 256, 256, 256, 0, 512, 512, 512, 512, 0, 512, 512, 512, 512 },
    };

    /// <summary>Weight layers: convs plus 3 for the classifier, as the reference counts (VGG-16 has 13 convs).</summary>
    public int Depth { get; }
    public IReadOnlyList<int> Config { get; }
    public override string TypeName => $"VGG{Depth}";

    private ChildSlot _features, _avgpool, _classifier;
    // Each reads the registry slot: a child replaced with RegisterModule is what these return and what runs.
    public Sequential Features => Child<Sequential>("features", ref _features);
    public Module AvgPool => Child("avgpool", ref _avgpool);
    public Sequential Classifier => Child<Sequential>("classifier", ref _classifier);

    public Vgg(int depth, int numClasses = 10, Generator? generator = null)
        : this(DefaultConfig(depth), numClasses, generator) { }

    /// <summary>A VGG with custom widths (e.g. after channel pruning): conv widths, 0 for a max-pool.</summary>
    /// <summary>The zoo's widths of a VGG-<paramref name="depth"/> (0 for a max-pool).</summary>
    public static IReadOnlyList<int> DefaultConfig(int depth) => Configs.TryGetValue(depth, out var cfg) ? cfg
        : throw new ArgumentException($"VGG depth must be one of {string.Join(", ", Configs.Keys)}, got {depth}");

    /// <summary>The classifier after the pooled features.</summary>
    public VggHead Head { get; }

    public Vgg(IReadOnlyList<int> cfg, int numClasses = 10, Generator? generator = null, VggHead head = VggHead.Mlp)
    {
        if (cfg.Count == 0 || cfg.Any(v => v < 0) || cfg[^1] == 0)
            throw new ArgumentException($"VGG cfg must be conv widths > 0 and 0 for max-pool, ending with a conv; got [{string.Join(", ", cfg)}]");
        Depth = cfg.Count(v => v > 0) + 3;
        Config = cfg.ToArray();
        Head = head;
        var features = new Sequential();
        int inCh = 3;
        foreach (var v in cfg)
        {
            if (v == 0) { features.Add(new MaxPool2d(2)); continue; }
            features.Add(new Conv2d(inCh, v, 3, padding: 1, bias: false, generator: generator));
            features.Add(new BatchNorm2d(v));
            features.Add(new ReLU(inplace: true));
            inCh = v;
        }
        RegisterModule("features", features);
        RegisterModule("avgpool", new AvgPool2d(2));
        RegisterModule("classifier", head == VggHead.Linear
            ? new Sequential(new Linear(inCh, numClasses, generator: generator))
            : new Sequential(new Linear(inCh, 512, generator: generator), new BatchNorm1d(512), new ReLU(inplace: true),
                new Linear(512, numClasses, generator: generator)));

        ZooInit.ConvFanOutAndBatchNorm(this, bnWeight: 0.5f, generator);
        foreach (var m in Modules())
            if (m is Linear lin) { Init.Normal_(lin.Weight, 0f, 0.01f, generator); lin.Bias?.Zero_(); }
    }

    protected override Tensor ForwardCore(Tensor input)
    {
        Module features = Child("features", ref _features), avgpool = AvgPool;
        var f = features.Forward(input);
        var x = avgpool.Forward(f);
        Recycle(f, features, avgpool, x);
        return Child("classifier", ref _classifier).Forward(x.Flatten(1));
    }
}

/// <summary>The classifier of a <see cref="Vgg"/>.</summary>
public enum VggHead
{
    /// <summary>l1-norm-pruning's Linear(cfg[-1], 512) → BatchNorm1d → ReLU → Linear(512, classes) (the zoo's).</summary>
    Mlp,
    /// <summary>network-slimming's single Linear(cfg[-1], classes).</summary>
    Linear,
}
