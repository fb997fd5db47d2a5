namespace SharpPrune.NN;

public sealed class Conv2d : Module
{
    public int InChannels { get; }
    public int OutChannels { get; }
    public (int H, int W) KernelSize { get; }
    public (int H, int W) Stride { get; }
    public (int H, int W) Padding { get; }
    public (int H, int W) Dilation { get; }
    public int Groups { get; }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, int dilation = 1,
        int groups = 1, bool bias = true, Generator? generator = null)
        : this(inChannels, outChannels, (kernelSize, kernelSize), (stride, stride), (padding, padding), (dilation, dilation), groups, bias, generator) { }

    public Conv2d(int inChannels, int outChannels, (int H, int W) kernelSize, (int H, int W) stride, (int H, int W) padding,
        (int H, int W) dilation, int groups = 1, bool bias = true, Generator? generator = null)
    {
        if (groups < 1 || inChannels % groups != 0) throw new ArgumentException($"Conv2d: in_channels ({inChannels}) must be divisible by groups ({groups})");
        if (outChannels % groups != 0) throw new ArgumentException($"Conv2d: out_channels ({outChannels}) must be divisible by groups ({groups})");
        if (kernelSize.H < 1 || kernelSize.W < 1) throw new ArgumentException($"Conv2d: kernel size {kernelSize} must be positive");
        InChannels = inChannels; OutChannels = outChannels; KernelSize = kernelSize;
        Stride = stride; Padding = padding; Dilation = dilation; Groups = groups;
        var w = AddParameter("weight", Tensor.Empty(outChannels, inChannels / groups, kernelSize.H, kernelSize.W));
        var b = bias ? AddParameter("bias", Tensor.Empty(outChannels)) : RegisterParameter("bias", null);
        Init.DefaultLayerInit(w, b, generator);
    }

    public Tensor Weight => Get("weight");
    public Tensor? Bias => GetOptional("bias");

    protected override Tensor ForwardCore(Tensor input) =>
        F.Conv2d(input, Weight, Bias, Stride, Padding, Dilation, Groups);

    public override string ExtraRepr()
    {
        var s = $"{InChannels}, {OutChannels}, kernel_size={P(KernelSize)}, stride={P(Stride)}";
        if (Padding != (0, 0)) s += $", padding={P(Padding)}";
        if (Dilation != (1, 1)) s += $", dilation={P(Dilation)}";
        if (Groups != 1) s += $", groups={Groups}";
        if (Bias == null) s += ", bias=False";
        return s;
    }

    private static string P((int H, int W) v) => $"({v.H}, {v.W})";
}
