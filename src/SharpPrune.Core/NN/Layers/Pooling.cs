namespace SharpPrune.NN;

/// <summary>2-D max pooling over (N, C, H, W); stride defaults to the kernel size, as in PyTorch.</summary>
public sealed class MaxPool2d : Module
{
    public (int H, int W) KernelSize { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    private readonly bool _square;

    public MaxPool2d(int kernelSize, int? stride = null, int padding = 0)
        : this((kernelSize, kernelSize), stride is int s ? (s, s) : null, (padding, padding)) => _square = true;

    public MaxPool2d((int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null)
    {
        KernelSize = kernelSize; Stride = stride ?? kernelSize; Padding = padding ?? (0, 0);
        PoolArgs.Validate("MaxPool2d", KernelSize, Stride, Padding);
    }

    protected override Tensor ForwardCore(Tensor input) => F.MaxPool2d(input, KernelSize, Stride, Padding);

    public override string ExtraRepr() =>
        $"kernel_size={PoolArgs.Show(KernelSize, _square)}, stride={PoolArgs.Show(Stride, _square)}, padding={PoolArgs.Show(Padding, _square)}, dilation=1, ceil_mode=False";
}

/// <summary>2-D average pooling (zero padding counted in the divisor, PyTorch's count_include_pad=True).</summary>
public sealed class AvgPool2d : Module
{
    public (int H, int W) KernelSize { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    private readonly bool _square;

    public AvgPool2d(int kernelSize, int? stride = null, int padding = 0)
        : this((kernelSize, kernelSize), stride is int s ? (s, s) : null, (padding, padding)) => _square = true;

    public AvgPool2d((int H, int W) kernelSize, (int H, int W)? stride = null, (int H, int W)? padding = null)
    {
        KernelSize = kernelSize; Stride = stride ?? kernelSize; Padding = padding ?? (0, 0);
        PoolArgs.Validate("AvgPool2d", KernelSize, Stride, Padding);
    }

    protected override Tensor ForwardCore(Tensor input) => F.AvgPool2d(input, KernelSize, Stride, Padding);

    public override string ExtraRepr() =>
        $"kernel_size={PoolArgs.Show(KernelSize, _square)}, stride={PoolArgs.Show(Stride, _square)}, padding={PoolArgs.Show(Padding, _square)}";
}

/// <summary>Average pooling to a fixed output size, with PyTorch's adaptive window bounds.</summary>
public sealed class AdaptiveAvgPool2d : Module
{
    public (int H, int W) OutputSize { get; }
    private readonly bool _square;

    public AdaptiveAvgPool2d(int outputSize) : this((outputSize, outputSize)) => _square = true;

    public AdaptiveAvgPool2d((int H, int W) outputSize)
    {
        if (outputSize.H < 1 || outputSize.W < 1)
            throw new ArgumentException($"AdaptiveAvgPool2d: output size {outputSize} must be positive");
        OutputSize = outputSize;
    }

    protected override Tensor ForwardCore(Tensor input) => F.AdaptiveAvgPool2d(input, OutputSize);

    public override string ExtraRepr() => $"output_size={PoolArgs.Show(OutputSize, _square)}";
}

internal static class PoolArgs
{
    public static void Validate(string layer, (int H, int W) k, (int H, int W) s, (int H, int W) p)
    {
        if (k.H < 1 || k.W < 1) throw new ArgumentException($"{layer}: kernel size {k} must be positive");
        if (s.H < 1 || s.W < 1) throw new ArgumentException($"{layer}: stride {s} must be positive");
        if (p.H < 0 || p.W < 0 || p.H * 2 > k.H || p.W * 2 > k.W)
            throw new ArgumentException($"{layer}: pad should be at most half of kernel size, but got pad={p} and kernel_size={k}");
    }

    // PyTorch prints an int when the layer was built from ints, a tuple otherwise.
    public static string Show((int H, int W) v, bool square) => square ? $"{v.H}" : $"({v.H}, {v.W})";
}
