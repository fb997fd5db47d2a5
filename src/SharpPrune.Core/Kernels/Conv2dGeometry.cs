namespace SharpPrune.Kernels;

/// <summary>Shape of a 2-D convolution (NCHW input, OIHW weight), PyTorch semantics.</summary>
public readonly record struct Conv2dGeometry(int N, int CIn, int H, int W, int COut, int KH, int KW,
    int StrideH, int StrideW, int PadH, int PadW, int DilH, int DilW, int Groups)
{
    public int OutH => SlidingWindow.OutputSize(H, KH, StrideH, PadH, DilH);
    public int OutW => SlidingWindow.OutputSize(W, KW, StrideW, PadW, DilW);
    public int CInPerGroup => CIn / Groups;
    public int COutPerGroup => COut / Groups;
    public long InputLength => (long)N * CIn * H * W;
    public long OutputLength => (long)N * COut * OutH * OutW;
    public long WeightLength => (long)COut * CInPerGroup * KH * KW;

    /// <summary>1×1 kernel, stride 1, no padding: the input planes already are the im2col matrix.</summary>
    public bool IsPointwise => KH == 1 && KW == 1 && StrideH == 1 && StrideW == 1 && PadH == 0 && PadW == 0;

    /// <summary>One input and one output channel per group (groups == CIn == COut).</summary>
    public bool IsDepthwise => Groups == CIn && Groups == COut;

    public void Validate()
    {
        if (N < 0 || CIn <= 0 || H <= 0 || W <= 0 || COut <= 0 || KH <= 0 || KW <= 0)
            throw new ArgumentException($"Invalid conv geometry {this}.");
        if (StrideH <= 0 || StrideW <= 0 || DilH <= 0 || DilW <= 0 || PadH < 0 || PadW < 0)
            throw new ArgumentException($"Invalid conv stride/dilation/padding {this}.");
        if (Groups <= 0 || CIn % Groups != 0 || COut % Groups != 0)
            throw new ArgumentException($"Channels ({CIn}, {COut}) not divisible by groups {Groups}.");
        if (H + 2 * PadH < DilH * (KH - 1) + 1 || W + 2 * PadW < DilW * (KW - 1) + 1)
            throw new ArgumentException($"Kernel larger than padded input: {this}.");
    }
}
