using SharpPrune.NN;

namespace SharpPrune.Pruning.Structured;

/// <summary>Builds the smaller copy of one layer: the kept slices of its parameters and buffers copied over.</summary>
internal static class LayerSurgery
{
    public static Module Shrunk(Module layer, string name, Func<ChannelRole, SortedSet<int>?> removed)
    {
        switch (layer)
        {
            case Conv2d c when c.Groups != 1: // depthwise: one index for input, output and filter
                return Filtered(c, c.Weight, c.Bias, c.OutChannels, removed(ChannelRole.Depthwise), null, null);
            case Conv2d c:
                return Filtered(c, c.Weight, c.Bias, c.OutChannels, removed(ChannelRole.ConvOut), c.InChannels, removed(ChannelRole.ConvIn));
            case Linear l:
                return Filtered(l, l.Weight, l.Bias, l.OutFeatures, removed(ChannelRole.LinearOut), l.InFeatures, removed(ChannelRole.LinearIn));
            case BatchNormBase b:
            {
                var keep = Kept(b.NumFeatures, removed(ChannelRole.BatchNorm));
                var n = (BatchNormBase)ChannelWidths.Resize(b, keep.Length, keep.Length);
                foreach (var t in new[] { "weight", "bias", "running_mean", "running_var" })
                    if (b[t] is Tensor src) CopyRows(src, n[t]!, keep, null);
                if (b.NumBatchesTracked is Tensor nbt) n.NumBatchesTracked!.CopyFrom(nbt);
                n.Train(b.Training);
                return n;
            }
            case IChannelRouting r:
            {
                var sources = r.OutputSources;
                var keepIn = Kept(r.InChannels, removed(ChannelRole.RoutingIn));
                var keepOut = Kept(sources.Count, removed(ChannelRole.RoutingOut));
                var n = r.WithChannels(keepIn, keepOut);
                n.Train(layer.Training);
                return n;
            }
            default:
                throw new NotSupportedException($"structured pruning cannot shrink layer '{name}' ({layer.TypeName})");
        }
    }

    // A conv or linear: weight rows (and bias) of the kept outputs, weight columns of the kept inputs (null: a
    // depthwise conv, whose inputs are its outputs and whose weight has one column).
    private static Module Filtered(Module layer, Tensor weight, Tensor? bias, int outCount, SortedSet<int>? removedOut, int? inCount, SortedSet<int>? removedIn)
    {
        var keepOut = Kept(outCount, removedOut);
        var keepIn = inCount is int n ? Kept(n, removedIn) : null;
        var shrunk = ChannelWidths.Resize(layer, keepIn?.Length ?? keepOut.Length, keepOut.Length);
        CopyRows(weight, shrunk["weight"]!, keepOut, keepIn);
        if (bias is not null) CopyRows(bias, shrunk["bias"]!, keepOut, null);
        shrunk.Train(layer.Training);
        return shrunk;
    }

    private static int[] Kept(int n, SortedSet<int>? removed) =>
        removed is null ? Enumerable.Range(0, n).ToArray() : Enumerable.Range(0, n).Where(i => !removed.Contains(i)).ToArray();

    // dst[i, j, …] = src[rows[i], cols[j], …] (cols null: all of dim 1).
    private static void CopyRows(Tensor src, Tensor dst, int[] rows, int[]? cols)
    {
        var s = src.Data; var d = dst.Data;
        if (src.Dim == 1) { for (int i = 0; i < rows.Length; i++) d[i] = s[rows[i]]; dst.MarkChanged(); return; }
        int srcCols = src.Size(1), inner = src.Numel / (src.Size(0) * srcCols);
        cols ??= Enumerable.Range(0, srcCols).ToArray();
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < cols.Length; j++)
                s.Slice((rows[i] * srcCols + cols[j]) * inner, inner).CopyTo(d.Slice((i * cols.Length + j) * inner, inner));
        dst.MarkChanged();
    }
}
