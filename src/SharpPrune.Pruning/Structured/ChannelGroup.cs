using SharpPrune.NN;

namespace SharpPrune.Pruning.Structured;

/// <summary>How a layer's tensor is indexed by a coupled channel.</summary>
public enum ChannelRole
{
    /// <summary>Conv2d output channel: weight[c], bias[c].</summary>
    ConvOut,
    /// <summary>Conv2d input channel: weight[:, c].</summary>
    ConvIn,
    /// <summary>Depthwise Conv2d channel (groups = in = out): input c, output c, weight[c], bias[c].</summary>
    Depthwise,
    /// <summary>Linear output feature: weight[c], bias[c].</summary>
    LinearOut,
    /// <summary>Linear input feature: weight[:, c] (after a flatten, one feature of a channel's H×W).</summary>
    LinearIn,
    /// <summary>BatchNorm channel: weight, bias, running_mean, running_var [c].</summary>
    BatchNorm,
    /// <summary>Input channel of a channel-routing module (<see cref="IChannelRouting"/>, e.g. an option-A shortcut).</summary>
    RoutingIn,
    /// <summary>Output channel of a channel-routing module.</summary>
    RoutingOut,
}

/// <summary>One index of one layer that a coupled channel touches, e.g. (layer2.0.conv2, ConvOut, 5).</summary>
public readonly record struct ChannelMember(string Layer, Module Module, ChannelRole Role, int Index)
{
    /// <summary>True for the roles whose parameters create the channel's values (filters, rows, depthwise kernels).</summary>
    public bool IsProducer => Role is ChannelRole.ConvOut or ChannelRole.LinearOut or ChannelRole.Depthwise;
    public override string ToString() => $"{Layer}:{Role}[{Index}]";
}

/// <summary>
/// One channel of the network as structured pruning sees it: every layer index that has to go if it goes
/// (a conv's filter, the BatchNorm entry after it, the next conv's input slice, the residual branches it is added to…).
/// </summary>
public sealed class CoupledChannel
{
    internal CoupledChannel(IReadOnlyList<ChannelMember> members) { Members = members; }
    public IReadOnlyList<ChannelMember> Members { get; }
    public IEnumerable<ChannelMember> Producers => Members.Where(m => m.IsProducer);
}

/// <summary>
/// Coupled channels that touch the same layers in the same roles: the unit a ratio applies to. A plain conv's
/// output channels form one group; in a ResNet stage the residual stream (every block's last conv, the shortcuts
/// and the next convs' inputs) is one group.
/// </summary>
public sealed class ChannelGroup
{
    internal ChannelGroup(string name, IReadOnlyList<CoupledChannel> channels, IReadOnlyList<(string Layer, ChannelRole Role)> layers, string? notPrunable)
    {
        Name = name; Channels = channels; Layers = layers; NotPrunableReason = notPrunable;
    }

    /// <summary>The first producing layer in module order (what --ratios and --layers match), or the first member's layer.</summary>
    public string Name { get; }
    public IReadOnlyList<CoupledChannel> Channels { get; }
    /// <summary>The (layer, role) pairs every channel of the group touches.</summary>
    public IReadOnlyList<(string Layer, ChannelRole Role)> Layers { get; }
    /// <summary>Null when the group may be pruned; else why not (the model's input or output, a constant…).</summary>
    public string? NotPrunableReason { get; }
    public bool IsPrunable => NotPrunableReason is null;
    /// <summary>The layers a ratio or a layer filter names the group by: its producers, or all its layers if it has none.</summary>
    public IEnumerable<string> NamingLayers => ProducerLayers.Any() ? ProducerLayers.Distinct() : Layers.Select(l => l.Layer).Distinct();
    public IEnumerable<string> ProducerLayers => Layers.Where(l => l.Role is ChannelRole.ConvOut or ChannelRole.LinearOut or ChannelRole.Depthwise).Select(l => l.Layer);

    public override string ToString() =>
        $"{Name}: {Channels.Count} channels, {string.Join(", ", Layers.Select(l => $"{l.Layer}:{l.Role}"))}" + (IsPrunable ? "" : $" (not prunable: {NotPrunableReason})");
}
