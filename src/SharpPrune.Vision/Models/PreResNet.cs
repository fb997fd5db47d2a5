using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// Pre-activation ResNet for CIFAR (He et al., "Identity Mappings", 2016) as in the "Rethinking the Value of
/// Network Pruning" weight-level code (models/cifar/preresnet.py): depth ≥ 44 uses bottleneck blocks
/// (expansion 4), n = (depth − 2) / 9 per stage, so PreResNet-110 has 12 bottlenecks per stage and
/// 1,146,842 parameters for 10 classes. Shortcuts where shape changes: a lone 1×1 conv (downsample.0).
/// conv1 → layer1..3 → bn → ReLU → avg-pool 8 → fc. Init as the reference: convs N(0, √(2/(k²·out))),
/// BN weight 1 / bias 0, fc PyTorch's default.
/// </summary>
public sealed class PreResNet : Container
{
    public int Depth { get; }
    public override string TypeName => $"PreResNet{Depth}";

    public PreResNet(int depth, int numClasses = 10, Generator? generator = null)
    {
        if (depth < 44 || (depth - 2) % 9 != 0)
            throw new ArgumentException($"PreResNet (bottleneck) depth must be 9n+2 and >= 47 (e.g. 110, 164), got {depth}");
        Depth = depth;
        int n = (depth - 2) / 9;
        RegisterModule("conv1", new Conv2d(3, 16, 3, padding: 1, bias: false, generator: generator));
        int inplanes = CifarStages.Register(this, n, 16,
            (inplanes, planes, stride) => (new PreActBottleneck(inplanes, planes, stride, generator), planes * PreActBottleneck.Expansion));
        RegisterModule("bn", new BatchNorm2d(inplanes));
        RegisterModule("relu", new ReLU(inplace: true));
        RegisterModule("avgpool", new AvgPool2d(8));
        RegisterModule("fc", new Linear(inplanes, numClasses, generator: generator));
        ZooInit.ConvFanOutAndBatchNorm(this, bnWeight: 1f, generator);
    }

    private ChildSlot _conv1, _layer1, _layer2, _layer3, _bn, _relu, _avgpool, _fc;
    // Each reads the registry slot: a child replaced with RegisterModule is what these return and what runs.
    public Module Conv1 => Child("conv1", ref _conv1);
    public Module Layer1 => Child("layer1", ref _layer1);
    public Module Layer2 => Child("layer2", ref _layer2);
    public Module Layer3 => Child("layer3", ref _layer3);
    public Module Bn => Child("bn", ref _bn);
    public Module Relu => Child("relu", ref _relu);
    public Module AvgPool => Child("avgpool", ref _avgpool);
    public Module Fc => Child("fc", ref _fc);

    protected override Tensor ForwardCore(Tensor input)
    {
        var x = Chain(input, Conv1, Layer1, Layer2, Layer3, Bn, Relu, AvgPool);
        return Fc.Forward(x.Flatten(1));
    }
}

/// <summary>BN → ReLU → conv1×1 → BN → ReLU → conv3×3 (stride) → BN → ReLU → conv1×1 (×4), plus the shortcut.</summary>
public sealed class PreActBottleneck : Container
{
    public const int Expansion = 4;

    public PreActBottleneck(int inplanes, int planes, int stride = 1, Generator? generator = null)
    {
        RegisterModule("bn1", new BatchNorm2d(inplanes));
        RegisterModule("conv1", new Conv2d(inplanes, planes, 1, bias: false, generator: generator));
        RegisterModule("bn2", new BatchNorm2d(planes));
        RegisterModule("conv2", new Conv2d(planes, planes, 3, stride: stride, padding: 1, bias: false, generator: generator));
        RegisterModule("bn3", new BatchNorm2d(planes));
        RegisterModule("conv3", new Conv2d(planes, planes * Expansion, 1, bias: false, generator: generator));
        RegisterModule("relu", new ReLU(inplace: true));
        if (stride != 1 || inplanes != planes * Expansion)
            RegisterModule("downsample", new Sequential(
                new Conv2d(inplanes, planes * Expansion, 1, stride: stride, bias: false, generator: generator)));
    }

    private ChildSlot _bn1, _conv1, _bn2, _conv2, _bn3, _conv3, _relu, _downsample;
    // Each reads the registry slot: a child replaced with RegisterModule is what these return and what runs.
    public Module Bn1 => Child("bn1", ref _bn1);
    public Module Conv1 => Child("conv1", ref _conv1);
    public Module Bn2 => Child("bn2", ref _bn2);
    public Module Conv2 => Child("conv2", ref _conv2);
    public Module Bn3 => Child("bn3", ref _bn3);
    public Module Conv3 => Child("conv3", ref _conv3);
    public Module Relu => Child("relu", ref _relu);
    /// <summary>The 1×1-conv shortcut where the shape changes; null for the identity.</summary>
    public Module? Downsample => ChildOrNull("downsample", ref _downsample);

    protected override Tensor ForwardCore(Tensor x)
    {
        // Under no-grad, intermediates go back to the pool as soon as they are consumed (x itself is the caller's).
        Module relu = Relu;
        var o = Chain(x, Bn1, relu, Conv1, Bn2, relu, Conv2, Bn3, relu, Conv3);
        if (Downsample is not { } ds) return o.Add_(x); // o is conv3's fresh output
        var residual = ds.Forward(x);
        o = o.Add_(residual);
        if (!residual.SharesStorageWith(x)) Recycle(residual, ds, null, o); // a replaced shortcut may return x
        return o;
    }
}
