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
public sealed class PreResNet : Module
{
    protected override bool MayRetainTensors => false;
    public int Depth { get; }
    public override string TypeName => $"PreResNet{Depth}";

    public PreResNet(int depth, int numClasses = 10, Generator? generator = null)
    {
        if (depth < 44 || (depth - 2) % 9 != 0)
            throw new ArgumentException($"PreResNet (bottleneck) depth must be 9n+2 and >= 47 (e.g. 110, 164), got {depth}");
        Depth = depth;
        int n = (depth - 2) / 9;
        RegisterModule("conv1", new Conv2d(3, 16, 3, padding: 1, bias: false, generator: generator));
        int inplanes = 16;
        int[] planes = { 16, 32, 64 };
        for (int s = 0; s < 3; s++)
        {
            var stage = new Sequential();
            for (int b = 0; b < n; b++)
            {
                int stride = s > 0 && b == 0 ? 2 : 1;
                stage.Add(new PreActBottleneck(inplanes, planes[s], stride, generator));
                inplanes = planes[s] * PreActBottleneck.Expansion;
            }
            RegisterModule($"layer{s + 1}", stage);
        }
        RegisterModule("bn", new BatchNorm2d(inplanes));
        RegisterModule("relu", new ReLU(inplace: true));
        RegisterModule("avgpool", new AvgPool2d(8));
        RegisterModule("fc", new Linear(inplanes, numClasses, generator: generator));
        ZooInit.ConvFanOutAndBatchNorm(this, bnWeight: 1f, generator);
    }

    protected override Tensor ForwardCore(Tensor input)
    {
        var x = Chain(input, GetSubmodule("conv1"), GetSubmodule("layer1"), GetSubmodule("layer2"), GetSubmodule("layer3"),
            GetSubmodule("bn"), GetSubmodule("relu"), GetSubmodule("avgpool"));
        return GetSubmodule("fc").Forward(x.Flatten(1));
    }
}

/// <summary>BN → ReLU → conv1×1 → BN → ReLU → conv3×3 (stride) → BN → ReLU → conv1×1 (×4), plus the shortcut.</summary>
public sealed class PreActBottleneck : Module
{
    protected override bool MayRetainTensors => false;
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

    // Children are looked up by name on every call, so a submodule replaced after construction is used.
    protected override Tensor ForwardCore(Tensor x)
    {
        // Under no-grad, intermediates go back to the pool as soon as they are consumed (x itself is the caller's).
        Module relu = M("relu");
        var o = Chain(x, M("bn1"), relu, M("conv1"), M("bn2"), relu, M("conv2"), M("bn3"), relu, M("conv3"));
        if (!NamedChildren().Any(c => c.Name == "downsample")) return o.Add_(x); // o is conv3's fresh output
        var ds = M("downsample");
        var residual = ds.Forward(x);
        o = o.Add_(residual);
        if (!residual.SharesStorageWith(x)) Recycle(residual, ds, null, o); // a replaced shortcut may return x
        return o;
    }

    private Module M(string name) => GetSubmodule(name);
}
