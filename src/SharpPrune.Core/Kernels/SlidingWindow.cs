using System.Runtime.CompilerServices;

namespace SharpPrune.Kernels;

/// <summary>
/// The arithmetic of a window sliding along one axis (convolution, im2col, pooling), PyTorch semantics with
/// ceil_mode = false: one formula for every kernel.
/// </summary>
public static class SlidingWindow
{
    /// <summary>Output length of an axis of <paramref name="size"/> inputs (torch.nn.Conv2d's H_out formula).</summary>
    public static int OutputSize(int size, int kernel, int stride, int pad, int dilation = 1) =>
        (size + 2 * pad - dilation * (kernel - 1) - 1) / stride + 1;

    /// <summary>Output positions o whose input position o·stride + off lies inside [0, size): [lo, hi).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void ValidRange(int off, int stride, int size, int outSize, out int lo, out int hi)
    {
        lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
        int last = size - 1 - off;
        hi = last < 0 ? 0 : Math.Min(outSize, last / stride + 1);
        lo = Math.Min(lo, outSize);
        if (hi < lo) hi = lo;
    }
}
