namespace SharpPrune.NN;

/// <summary>
/// A parameter-free module whose output channels (dim 1) are copies of input channels or zeros, such as ResNet's
/// option-A shortcut. Structured pruning traces through it like any layer and shrinks it with
/// <see cref="WithChannels"/>; a module that creates channels any other way cannot be shrunk.
/// </summary>
public interface IChannelRouting
{
    /// <summary>The number of input channels (dim 1 of the input).</summary>
    int InChannels { get; }

    /// <summary>For each output channel, the input channel it carries, or -1 for a channel of zeros.</summary>
    IReadOnlyList<int> OutputSources { get; }

    /// <summary>A copy that takes only <paramref name="keptInputs"/> and produces only <paramref name="keptOutputs"/>
    /// (both ascending indices into this module's channels); a kept output's source must be kept or be -1.</summary>
    Module WithChannels(IReadOnlyList<int> keptInputs, IReadOnlyList<int> keptOutputs);
}

/// <summary>
/// Layers rebuilt with other channel counts and the same hyperparameters (kernel, stride, eps, bias, …): what a
/// channel-pruned model and a checkpoint of one are made of. The new layer's parameters are uninitialised.
/// </summary>
public static class ChannelWidths
{
    /// <summary>The layer's (input, output) channel counts, or null for a layer without channel widths.</summary>
    public static (int In, int Out)? Of(Module layer) => layer switch
    {
        Conv2d c => (c.InChannels, c.OutChannels),
        Linear l => (l.InFeatures, l.OutFeatures),
        BatchNormBase b => (b.NumFeatures, b.NumFeatures),
        _ => null,
    };

    /// <summary>
    /// A new Conv2d, Linear or BatchNorm with <paramref name="inChannels"/>/<paramref name="outChannels"/> and the
    /// other settings of <paramref name="layer"/>. A depthwise conv (groups = in = out) stays depthwise.
    /// </summary>
    public static Module Resize(Module layer, int inChannels, int outChannels)
    {
        if (inChannels < 1 || outChannels < 1)
            throw new ArgumentOutOfRangeException(nameof(inChannels), $"{layer.TypeName}: channel counts must be >= 1, got in {inChannels}, out {outChannels}");
        switch (layer)
        {
            case Conv2d c:
                int groups = c.Groups;
                if (groups != 1)
                {
                    if (!(c.Groups == c.InChannels && c.Groups == c.OutChannels))
                        throw new NotSupportedException($"Conv2d with groups={c.Groups} (in {c.InChannels}, out {c.OutChannels}) cannot change width: only groups=1 and depthwise (groups = in = out) can");
                    if (inChannels != outChannels)
                        throw new ArgumentException($"depthwise Conv2d must keep in = out channels, got {inChannels} and {outChannels}");
                    groups = inChannels;
                }
                return new Conv2d(inChannels, outChannels, c.KernelSize, c.Stride, c.Padding, c.Dilation, groups, c.Bias != null);
            case Linear l:
                return new Linear(inChannels, outChannels, l.Bias != null);
            case BatchNormBase b:
                if (inChannels != outChannels) throw new ArgumentException($"{b.TypeName} has one width, got in {inChannels} and out {outChannels}");
                return b is BatchNorm1d
                    ? new BatchNorm1d(inChannels, b.Eps, b.Momentum, b.Affine, b.TrackRunningStats)
                    : new BatchNorm2d(inChannels, b.Eps, b.Momentum, b.Affine, b.TrackRunningStats);
            default:
                throw new NotSupportedException($"{layer.TypeName} has no channel widths to change (supported: Conv2d, Linear, BatchNorm1d, BatchNorm2d)");
        }
    }
}
