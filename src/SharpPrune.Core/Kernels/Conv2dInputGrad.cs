namespace SharpPrune.Kernels;

/// <summary>
/// The input gradient of a stride-1 convolution as a forward convolution: gradIn = conv(gradOut, wᵗ) with the
/// flipped, transposed weights wᵗ[c, co, i, j] = w[co, c, KH−1−i, KW−1−j] and padding d·(k−1)−p. Run through the
/// forward machinery (im2col fused into GEMM packing, or the direct kernels), it writes CIn planes where GEMM +
/// col2im writes a CIn·KH·KW-row column matrix and folds it back: on VGG's and AlexNet's small maps (2×2…8×8)
/// col2im's short runs cost as much as the GEMM. The forward GEMM packs COut·KH·KW rows per column instead of
/// writing CIn·KH·KW, so it pays where CIn is not much smaller than COut. Measured per layer (single thread,
/// process CPU time, interleaved, batch 64/128), col2im → flipped forward: VGG 256→256@8×8 62.5 → 53.8 ms,
/// 512→512@4×4 65.4 → 55.5, 512→512@2×2 24.4 → 19.9; AlexNet 384→256@2×2 23.8 → 12.2, 192→384@2×2 13.8 → 11.0;
/// 128→256@8×8 and 256→512@4×4 equal; AlexNet's 64→192 5×5 slower (21.7 → 25.2): hence 2·CIn ≥ COut.
/// </summary>
public static unsafe partial class Conv2dKernels
{
    /// <summary>
    /// Test/bench hook, per thread (<see cref="KernelSwitches"/>): null = automatic (<c>2·CIn ≥ COut</c>), true/false =
    /// force the input gradient of a supported geometry through the flipped forward convolution (which runs the direct
    /// kernels where <see cref="DirectConv.Use"/> holds for it) / GEMM + col2im.
    /// </summary>
    internal static bool? InputGradAsForward
    {
        get => KernelSwitches.Current.InputGradAsForward;
        set => KernelSwitches.Current.InputGradAsForward = value;
    }

    /// <summary>
    /// Geometry <paramref name="t"/> of the forward convolution that computes <paramref name="g"/>'s input
    /// gradient, when <paramref name="g"/> has groups = 1, stride 1 and padding ≤ d·(k−1) (so t's padding is ≥ 0).
    /// </summary>
    internal static bool InputGradGeometry(in Conv2dGeometry g, out Conv2dGeometry t)
    {
        t = default;
        if (g.Groups != 1 || g.StrideH != 1 || g.StrideW != 1) return false;
        int ph = g.DilH * (g.KH - 1) - g.PadH, pw = g.DilW * (g.KW - 1) - g.PadW;
        if (ph < 0 || pw < 0) return false;
        t = new Conv2dGeometry(g.N, g.COut, g.OutH, g.OutW, g.CIn, g.KH, g.KW, 1, 1, ph, pw, g.DilH, g.DilW, 1);
        return true;
    }

    /// <summary>Whether <see cref="BackwardInput"/> runs the flipped forward convolution (geometry in <paramref name="t"/>).</summary>
    /// <remarks>The direct kernels (<see cref="DirectConv.Use"/> on <paramref name="t"/>: CIn ≤ 64) always take it.</remarks>
    private static bool UseInputGradAsForward(in Conv2dGeometry g, out Conv2dGeometry t) =>
        InputGradGeometry(g, out t) && (InputGradAsForward ?? (DirectConv.Use(t) || 2 * g.CIn >= g.COut));

    /// <summary>gradIn = conv(gradOut, flipped wᵀ) over geometry <paramref name="t"/> from <see cref="InputGradGeometry"/>.</summary>
    private static void BackwardInputAsForward(in Conv2dGeometry g, in Conv2dGeometry t, float* gradOut, float* w, float* gradIn)
    {
        float[] wtArr = ScratchPool.Rent(g.WeightLength);
        try
        {
            fixed (float* wt = wtArr)
            {
                FlipTransposeWeights(g, w, wt);
                Forward(t, new ReadOnlySpan<float>(gradOut, checked((int)t.InputLength)), new ReadOnlySpan<float>(wt, checked((int)t.WeightLength)),
                    ReadOnlySpan<float>.Empty, new Span<float>(gradIn, checked((int)t.OutputLength)));
            }
        }
        finally { ScratchPool.Return(wtArr); }
    }

    /// <summary>
    /// wt[c, co, KH·KW−1−q] = w[co, c, q]. Blocked over input channels so both sides stream through cache (a
    /// naive co-outer loop reads 36 bytes per cache line fetched and cost ~10 ms for 512×512×3×3); the blocks
    /// run on all threads when the weights are large.
    /// </summary>
    internal static void FlipTransposeWeights(in Conv2dGeometry g, float* w, float* wt)
    {
        int taps = g.KH * g.KW, cin = g.CIn, cout = g.COut;
        const int CBlock = 16;
        int blocks = (cin + CBlock - 1) / CBlock;
        nint iw = (nint)w, iwt = (nint)wt;
        Action<int, int, int> body = (_, b0, b1) =>
        {
            float* src0 = (float*)iw, dst0 = (float*)iwt;
            for (int b = b0; b < b1; b++)
            {
                int c0 = b * CBlock, c1 = Math.Min(cin, c0 + CBlock);
                for (int co = 0; co < cout; co++)
                {
                    float* src = src0 + ((nint)co * cin + c0) * taps;
                    for (int c = c0; c < c1; c++, src += taps)
                    {
                        float* dst = dst0 + ((nint)c * cout + co) * taps + taps - 1;
                        for (int q = 0; q < taps; q++) dst[-q] = src[q];
                    }
                }
            }
        };
        if (g.WeightLength >= 1 << 18) Parallelism.ForRanges(blocks, Parallelism.AvailableThreads, body);
        else body(0, 0, blocks);
    }
}
