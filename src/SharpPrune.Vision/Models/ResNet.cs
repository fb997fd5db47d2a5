using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// CIFAR ResNet of He et al. 2016 (§4.2): conv 16@3×3 → BN → ReLU → three stages of n basic blocks
/// (16, 32, 64 channels; the 2nd and 3rd halve the size) → global avg-pool 8 → fc; depth = 6n + 2.
/// Shortcuts are option A, parameter-free (<see cref="PadShortcut"/>), as in the "Rethinking the Value of
/// Network Pruning" l1-norm-pruning code: that gives ResNet-56 853,018 and ResNet-110 1,727,962 parameters —
/// the 0.85M / 1.72M of the weight-pruning table — where option B (1×1 conv + BN) would give 855,770 / 1,730,714.
/// Names as PyTorch: conv1, bn1, layer1.0.conv1, layer1.0.bn1, …, fc. Init as the reference: convs
/// N(0, √(2/(k²·out))), BN weight 1 / bias 0, fc PyTorch's default.
/// </summary>
public sealed class ResNet : Container
{
    public int Depth { get; }
    public override string TypeName => $"ResNet{Depth}";

    public ResNet(int depth, int numClasses = 10, Generator? generator = null)
    {
        if (depth < 8 || (depth - 2) % 6 != 0)
            throw new ArgumentException($"CIFAR ResNet depth must be 6n+2 (20, 32, 44, 56, 110, …), got {depth}");
        Depth = depth;
        int n = (depth - 2) / 6;
        RegisterModule("conv1", new Conv2d(3, 16, 3, padding: 1, bias: false, generator: generator));
        RegisterModule("bn1", new BatchNorm2d(16));
        RegisterModule("relu", new ReLU(inplace: true));
        CifarStages.Register(this, n, 16, (inplanes, planes, stride) => (new BasicBlock(inplanes, planes, stride, generator), planes));
        RegisterModule("avgpool", new AvgPool2d(8));
        RegisterModule("fc", new Linear(64, numClasses, generator: generator));
        ZooInit.ConvFanOutAndBatchNorm(this, bnWeight: 1f, generator);
    }

    private ChildSlot _conv1, _bn1, _relu, _layer1, _layer2, _layer3, _avgpool, _fc;
    // Each reads the registry slot: a child replaced with RegisterModule is what these return and what runs.
    public Module Conv1 => Child("conv1", ref _conv1);
    public Module Bn1 => Child("bn1", ref _bn1);
    public Module Relu => Child("relu", ref _relu);
    public Module Layer1 => Child("layer1", ref _layer1);
    public Module Layer2 => Child("layer2", ref _layer2);
    public Module Layer3 => Child("layer3", ref _layer3);
    public Module AvgPool => Child("avgpool", ref _avgpool);
    public Module Fc => Child("fc", ref _fc);

    protected override Tensor ForwardCore(Tensor input)
    {
        var x = Chain(input, Conv1, Bn1, Relu, Layer1, Layer2, Layer3, AvgPool);
        return Fc.Forward(x.Flatten(1));
    }
}

/// <summary>conv3×3 → BN → ReLU → conv3×3 → BN, plus the shortcut, then ReLU.</summary>
public sealed class BasicBlock : Container
{
    public BasicBlock(int inplanes, int planes, int stride = 1, Generator? generator = null)
    {
        RegisterModule("conv1", new Conv2d(inplanes, planes, 3, stride: stride, padding: 1, bias: false, generator: generator));
        RegisterModule("bn1", new BatchNorm2d(planes));
        RegisterModule("relu", new ReLU(inplace: true));
        RegisterModule("conv2", new Conv2d(planes, planes, 3, padding: 1, bias: false, generator: generator));
        RegisterModule("bn2", new BatchNorm2d(planes));
        if (stride != 1 || inplanes != planes)
            RegisterModule("downsample", new PadShortcut(inplanes, planes, stride));
    }

    private ChildSlot _conv1, _bn1, _relu, _conv2, _bn2, _downsample;
    // Each reads the registry slot: a child replaced with RegisterModule (a narrower conv, a new shortcut) is what
    // these return and what runs.
    public Module Conv1 => Child("conv1", ref _conv1);
    public Module Bn1 => Child("bn1", ref _bn1);
    public Module Relu => Child("relu", ref _relu);
    public Module Conv2 => Child("conv2", ref _conv2);
    public Module Bn2 => Child("bn2", ref _bn2);
    /// <summary>The shortcut where the shape changes (a <see cref="PadShortcut"/>); null for the identity.</summary>
    public Module? Downsample => ChildOrNull("downsample", ref _downsample);

    // Under no-grad, intermediates go back to the pool as soon as they are consumed (x itself is the caller's).
    protected override Tensor ForwardCore(Tensor x)
    {
        Module relu = Relu, conv2 = Conv2, bn2 = Bn2;
        var h = Chain(x, Conv1, Bn1, relu);
        if (FusesConvBatchNormAddRelu(conv2, bn2, relu))
        {
            // Inference: relu(bn2(conv2(h)) + shortcut) in the convolution's store, no passes over the output.
            var shortcut = Downsample is { } d ? d.Forward(x) : x;
            var y = ConvBatchNormAddRelu(conv2, bn2, h, shortcut);
            if (!h.SharesStorageWith(x)) Recycle(h, relu, conv2, y);
            if (Downsample is { } d2 && !shortcut.SharesStorageWith(x)) Recycle(shortcut, d2, null, y);
            return y;
        }
        if (FusesBatchNormRelu(bn2, relu))
        {
            // Training (or a hooked conv): relu(bn2(c) + shortcut) as the batch norm stores its output, one op.
            var c = conv2.Forward(h);
            if (!h.SharesStorageWith(x)) Recycle(h, relu, conv2, c);
            var shortcut = Downsample is { } d ? d.Forward(x) : x;
            var y = BatchNormAddRelu(bn2, c, shortcut);
            Recycle(c, conv2, bn2, y);
            if (Downsample is { } d2 && !shortcut.SharesStorageWith(x)) Recycle(shortcut, d2, null, y);
            return y;
        }
        var o = Chain(h, conv2, bn2);
        if (!h.SharesStorageWith(x)) Recycle(h, relu, conv2, null);
        if (Downsample is { } ds)
        {
            var residual = ds.Forward(x);
            o = o.Add_(residual); // o is bn2's fresh output (as PyTorch's out += shortcut)
            if (!residual.SharesStorageWith(x)) Recycle(residual, ds, null, o); // a replaced shortcut may return x
        }
        else o = o.Add_(x);
        return relu.Forward(o);
    }
}

/// <summary>
/// Option-A shortcut: average-pool by the stride (as the reference's AvgPool2d(2, 2)) and append zero channels
/// up to the block's width. No parameters; unlike the reference, the gradient flows through it. After channel
/// pruning it carries the kept input channels to the positions <see cref="OutputSources"/> names (the rest zeros).
/// </summary>
public sealed class PadShortcut : Module, IChannelRouting
{
    public int InChannels { get; }
    public int OutChannels { get; }
    public int Stride { get; }
    private readonly int[]? _sources; // null: input channel i at output i, zeros after
    private readonly int[]? _gather;  // _sources with -1 replaced by InChannels (the appended zero channel)

    public PadShortcut(int inChannels, int outChannels, int stride, IReadOnlyList<int>? outputSources = null)
    {
        if (outChannels < inChannels) throw new ArgumentException($"PadShortcut: out_channels ({outChannels}) must be >= in_channels ({inChannels})");
        if (stride < 1) throw new ArgumentException($"PadShortcut: stride must be >= 1, got {stride}");
        InChannels = inChannels; OutChannels = outChannels; Stride = stride;
        if (outputSources is null) return;
        if (outputSources.Count != outChannels)
            throw new ArgumentException($"PadShortcut: {outputSources.Count} output sources for {outChannels} output channels");
        var seen = new HashSet<int>();
        foreach (var src in outputSources)
            if (src < -1 || src >= inChannels || (src >= 0 && !seen.Add(src)))
                throw new ArgumentException($"PadShortcut: output source {src} is not -1 or a distinct input channel in [0, {inChannels})");
        if (seen.Count != inChannels) throw new ArgumentException($"PadShortcut: every input channel must reach the output ({seen.Count} of {inChannels} do)");
        _sources = outputSources.ToArray();
        if (!_sources.Select((v, i) => v == (i < inChannels ? i : -1)).All(b => b))
            _gather = _sources.Select(v => v < 0 ? inChannels : v).ToArray();
    }

    /// <summary>True when the map is not the plain layout (input channel i at output i, zeros after): a shrink reordered it.</summary>
    public bool RoutesChannels => _gather is not null;

    public IReadOnlyList<int> OutputSources => _sources ?? Enumerable.Range(0, OutChannels).Select(i => i < InChannels ? i : -1).ToArray();

    public Module WithChannels(IReadOnlyList<int> keptInputs, IReadOnlyList<int> keptOutputs)
    {
        var sources = OutputSources;
        var newIndex = new Dictionary<int, int>();
        for (int i = 0; i < keptInputs.Count; i++) newIndex[keptInputs[i]] = i;
        var mapped = keptOutputs.Select(o => sources[o] < 0 ? -1
            : newIndex.TryGetValue(sources[o], out int n) ? n
            : throw new ArgumentException($"PadShortcut: kept output channel {o} carries input channel {sources[o]}, which is not kept")).ToArray();
        return new PadShortcut(keptInputs.Count, keptOutputs.Count, Stride, mapped);
    }

    protected override Tensor ForwardCore(Tensor x)
    {
        if (x.Dim != 4 || x.Size(1) != InChannels)
            throw new ArgumentException($"PadShortcut: expected input (N, {InChannels}, H, W), got {Shapes.Format(x.Shape)}");
        if (Stride > 1) x = F.AvgPool2d(x, (Stride, Stride), (Stride, Stride), (0, 0));
        if (_gather is not null)
            return Tensor.Concat(new[] { x, Tensor.Zeros(x.Size(0), 1, x.Size(2), x.Size(3)) }, 1).IndexSelect(1, _gather);
        if (OutChannels == InChannels) return x;
        var zeros = Tensor.Zeros(x.Size(0), OutChannels - InChannels, x.Size(2), x.Size(3));
        return Tensor.Concat(new[] { x, zeros }, 1);
    }

    public override string ExtraRepr() => $"{InChannels}, {OutChannels}, stride={Stride}" + (_gather is null ? "" : ", channel map");
}
