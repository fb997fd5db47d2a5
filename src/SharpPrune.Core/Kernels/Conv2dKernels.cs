using System.Numerics.Tensors;

namespace SharpPrune.Kernels;

/// <summary>
/// Conv2d forward / backward via im2col + SGEMM. Images are processed in chunks of nb images whose column
/// matrices sit side by side, so that late layers with tiny spatial maps still give the GEMM ≥ ~512 columns.
/// Forward and weight-gradient GEMMs never materialise the column matrix: im2col is fused into the packing of
/// GEMM's B panels (<see cref="Im2ColSource"/>, <see cref="Im2ColTransposedSource"/>); the input gradient
/// GEMM writes a column matrix that col2im folds back. 1×1/stride-1/no-pad convolutions use the input planes
/// directly, depthwise convolutions (groups == CIn) use direct kernels.
/// With enough chunks the batch is split across threads (each with its own pooled scratch, single-threaded
/// GEMM; the weight gradient reduces per-thread partial sums in a fixed order); otherwise chunks run in
/// sequence and the GEMM itself is threaded.
/// </summary>
public static unsafe partial class Conv2dKernels
{
    internal static int TargetColumns = 512;
    /// <summary>Cap on one chunk's column matrix (16 MB, input-gradient pass) so deep layers do not rent huge buffers.</summary>
    internal static long MaxColumnFloats = 4L << 20;

    private readonly struct Plan
    {
        public readonly Conv2dGeometry G;
        public readonly int OH, OW, OHW, CInG, COutG, K, KRows, Nb, Chunks;
        public readonly nint InImg, OutImg, Plane;
        public readonly bool Parallel, Direct1x1;

        public Plan(in Conv2dGeometry g)
        {
            G = g; OH = g.OutH; OW = g.OutW; OHW = OH * OW;
            CInG = g.CInPerGroup; COutG = g.COutPerGroup;
            K = CInG * g.KH * g.KW; KRows = g.CIn * g.KH * g.KW;
            Plane = (nint)g.H * g.W; InImg = g.CIn * Plane; OutImg = (nint)g.COut * OHW;
            Direct1x1 = g.IsPointwise;

            int nb = Math.Clamp((TargetColumns + OHW - 1) / OHW, 1, Math.Max(1, g.N));
            long perImage = (long)KRows * OHW;
            nb = (int)Math.Max(1, Math.Min(nb, MaxColumnFloats / Math.Max(1, perImage)));
            int chunks = (g.N + nb - 1) / nb;
            Nb = chunks == 0 ? 1 : (g.N + chunks - 1) / chunks; // even chunk sizes
            Chunks = chunks;

            int t = Parallelism.AvailableThreads;
            long macs = (long)g.N * OHW * K * g.COut;
            // Batch-level parallelism only when chunks balance across threads; else thread inside the GEMM.
            Parallel = t > 1 && macs >= Gemm.ParallelThreshold && (Chunks >= 4 * t || (Chunks >= t && Chunks % t == 0));
        }

        public int ChunkStart(int chunk) => chunk * Nb;
        public int ChunkSize(int chunk) => Math.Min(Nb, G.N - chunk * Nb);
    }

    private static void CheckLength(int length, long needed, string name)
    {
        if (length < needed) throw new ArgumentException($"Span of {length} floats, {needed} required.", name);
    }

    // ---------------------------------------------------------------- forward

    public static void Forward(in Conv2dGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output)
    {
        g.Validate();
        CheckLength(input.Length, g.InputLength, nameof(input));
        CheckLength(weight.Length, g.WeightLength, nameof(weight));
        CheckLength(output.Length, g.OutputLength, nameof(output));
        if (!bias.IsEmpty) CheckLength(bias.Length, g.COut, nameof(bias));
        if (g.N == 0) return;
        fixed (float* pi = input) fixed (float* pw = weight) fixed (float* pb = bias) fixed (float* po = output)
        {
            if (DepthwiseSupported(g))
            {
                if (DepthwiseAvxSupported(g)) DepthwiseForwardAvx(g, pi, pw, bias.IsEmpty ? null : pb, po);
                else DepthwiseForward(g, pi, pw, bias.IsEmpty ? null : pb, po);
                return;
            }
            if (DirectConv.UseForward(g))
            {
                DirectConv.Forward(g, pi, pw, bias.IsEmpty ? null : pb, po);
                return;
            }
            GemmForward(g, pi, pw, bias.IsEmpty ? null : pb, po, default);
        }
    }

    /// <summary>
    /// Per output channel, applied to each chunk's output while it is still in cache: y = y·Scale[c] + Shift[c]
    /// (the BatchNorm kernel's arithmetic), then + residual (same layout as the output; <paramref name="residualDelta"/>
    /// is its distance from the output in floats) if asked, then ReLU if asked. Null Scale = bias only.
    /// </summary>
    private readonly struct Epilogue(float* scale, float* shift, bool relu, bool residual = false, nint residualDelta = 0)
    {
        public readonly float* Scale = scale, Shift = shift;
        public readonly bool Relu = relu, Residual = residual;
        public readonly nint ResidualDelta = residualDelta;

        /// <summary>row = src + bias, then the affine map, the residual add and ReLU: the same primitives, in the same
        /// order, as the ops run one after the other, so the fused result is bit for bit theirs. src may be row.</summary>
        public void Apply(float* src, float* row, int len, float* bias, int c)
        {
            var span = new Span<float>(row, len);
            if (bias != null) TensorPrimitives.Add(new ReadOnlySpan<float>(src, len), bias[c], span);
            else if (src != row) new ReadOnlySpan<float>(src, len).CopyTo(span);
            if (Scale == null) return;
            BatchNormKernels.Affine(row, row, len, Scale[c], Shift[c]);
            if (Residual) TensorPrimitives.Add(span, new ReadOnlySpan<float>(row + ResidualDelta, len), span);
            if (Relu) TensorPrimitives.Max(span, 0f, span);
        }
    }

    private static void GemmForward(in Conv2dGeometry g, float* pi, float* pw, float* pb, float* po, Epilogue epi)
    {
        var plan = new Plan(g);
        nint ii = (nint)pi, iw = (nint)pw, ib = (nint)pb, io = (nint)po;
        if (plan.Parallel)
            Parallelism.For(0, plan.Chunks, ch => ForwardChunk(plan, ch, (float*)ii, (float*)iw, (float*)ib, (float*)io, epi));
        else
            for (int ch = 0; ch < plan.Chunks; ch++) ForwardChunk(plan, ch, pi, pw, pb, po, epi);
    }

    /// <summary>
    /// Forward followed by y = y·scale[c] + shift[c] and, if asked, ReLU per output channel: inside the direct
    /// kernel's store, in the im2col-GEMM path on each chunk's output while it is in cache (in the chunk's own
    /// thread), for depthwise convolutions as one pass after; always with the BatchNorm and ReLU kernels' own
    /// arithmetic, so the result equals running the three ops one after the other.
    /// </summary>
    public static void ForwardAffine(in Conv2dGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift, bool relu)
        => ForwardAffine(g, input, weight, bias, output, scale, shift, ReadOnlySpan<float>.Empty, relu);

    /// <summary>
    /// As above with a residual added after the affine map and before ReLU: a residual block's
    /// relu(bn2(conv2(h)) + shortcut) in one pass. <paramref name="residual"/> has the output's shape (empty: none)
    /// and must not overlap it (the direct kernel reads it only after the output's last k block is summed).
    /// </summary>
    public static void ForwardAffine(in Conv2dGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> weight,
        ReadOnlySpan<float> bias, Span<float> output, ReadOnlySpan<float> scale, ReadOnlySpan<float> shift,
        ReadOnlySpan<float> residual, bool relu)
    {
        g.Validate();
        CheckLength(input.Length, g.InputLength, nameof(input));
        CheckLength(weight.Length, g.WeightLength, nameof(weight));
        CheckLength(output.Length, g.OutputLength, nameof(output));
        CheckLength(scale.Length, g.COut, nameof(scale));
        CheckLength(shift.Length, g.COut, nameof(shift));
        if (!bias.IsEmpty) CheckLength(bias.Length, g.COut, nameof(bias));
        bool hasRes = !residual.IsEmpty;
        if (hasRes) CheckLength(residual.Length, g.OutputLength, nameof(residual));
        if (g.N == 0) return;
        fixed (float* pi = input) fixed (float* pw = weight) fixed (float* pb = bias) fixed (float* po = output)
        fixed (float* ps = scale) fixed (float* pt = shift) fixed (float* pr = residual)
        {
            var epi = new Epilogue(ps, pt, relu, hasRes, hasRes ? (nint)(pr - po) : 0);
            if (!DepthwiseSupported(g))
            {
                if (DirectConv.UseForward(g)) DirectConv.Forward(g, pi, pw, bias.IsEmpty ? null : pb, po, ps, pt, relu, hasRes ? pr : null);
                else GemmForward(g, pi, pw, bias.IsEmpty ? null : pb, po, epi);
                return;
            }
            Forward(g, input, weight, bias, output);
            int plane = g.OutH * g.OutW;
            nint io = (nint)po;
            int cout = g.COut, n = g.N;
            Action<int> body = c =>
            {
                for (int b = 0; b < n; b++)
                {
                    float* row = (float*)io + ((nint)b * cout + c) * plane;
                    epi.Apply(row, row, plane, null, c);
                }
            };
            if ((long)n * cout * plane >= 1 << 15) Parallelism.For(0, cout, body);
            else for (int c = 0; c < cout; c++) body(c);
        }
    }

    private static void ForwardChunk(in Plan p, int chunk, float* input, float* weight, float* bias, float* output, Epilogue epi)
    {
        var g = p.G;
        int b0 = p.ChunkStart(chunk), nbc = p.ChunkSize(chunk), ncols = nbc * p.OHW;
        int threads = Parallelism.AvailableThreads;
        bool direct = p.Direct1x1 && nbc == 1;
        // im2col is fused into GEMM's B packing (one group at a time), except for the direct 1×1 case.
        int[]? metaArr = direct ? null : System.Buffers.ArrayPool<int>.Shared.Rent(Im2ColSource.MetaLength(p.CInG, g.KH, g.KW));
        float[]? tmpArr = nbc > 1 ? ScratchPool.Rent((long)p.COutG * ncols) : null;
        try
        {
            fixed (int* meta = metaArr) fixed (float* tmp = tmpArr)
            {
                for (int gr = 0; gr < g.Groups; gr++)
                {
                    float* w = weight + (nint)gr * p.COutG * p.K;
                    float* o = nbc == 1 ? output + b0 * p.OutImg + (nint)gr * p.COutG * p.OHW : tmp;
                    nint ldo = nbc == 1 ? p.OHW : ncols;
                    if (direct)
                    {
                        Gemm.SgemmCore(false, false, p.COutG, p.OHW, p.K, 1f, w, p.K,
                            input + b0 * p.InImg + gr * p.CInG * p.Plane, p.Plane, 0f, o, ldo, threads);
                    }
                    else
                    {
                        var cols = new Im2ColSource(input + b0 * p.InImg + gr * p.CInG * p.Plane, p.InImg, nbc, p.CInG, g.H, g.W,
                            g.KH, g.KW, g.StrideH, g.StrideW, g.PadH, g.PadW, g.DilH, g.DilW, p.OH, p.OW, meta);
                        Gemm.SgemmWithSource(false, p.COutG, ncols, p.K, 1f, w, p.K, cols, 0f, o, ldo, threads);
                    }
                    if (nbc == 1)
                    {
                        if (bias != null || epi.Scale != null)
                            for (int co = 0; co < p.COutG; co++)
                                epi.Apply(o + (nint)co * p.OHW, o + (nint)co * p.OHW, p.OHW, bias, gr * p.COutG + co);
                        continue;
                    }
                    // Scatter [COutG × nbc·OHW] back to NCHW, fusing the epilogue.
                    for (int bi = 0; bi < nbc; bi++)
                        for (int co = 0; co < p.COutG; co++)
                        {
                            float* dst = output + (b0 + bi) * p.OutImg + (nint)(gr * p.COutG + co) * p.OHW;
                            epi.Apply(tmp + (nint)co * ncols + bi * p.OHW, dst, p.OHW, bias, gr * p.COutG + co);
                        }
                }
            }
        }
        finally
        {
            if (metaArr != null) System.Buffers.ArrayPool<int>.Shared.Return(metaArr);
            if (tmpArr != null) ScratchPool.Return(tmpArr);
        }
    }

    // ---------------------------------------------------------------- backward (input)

    public static void BackwardInput(in Conv2dGeometry g, ReadOnlySpan<float> gradOutput, ReadOnlySpan<float> weight,
        Span<float> gradInput)
    {
        g.Validate();
        CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput));
        CheckLength(weight.Length, g.WeightLength, nameof(weight));
        CheckLength(gradInput.Length, g.InputLength, nameof(gradInput));
        if (g.N == 0) return;
        fixed (float* pgo = gradOutput) fixed (float* pw = weight) fixed (float* pgi = gradInput)
        {
            if (DepthwiseSupported(g))
            {
                if (DepthwiseAvxSupported(g)) DepthwiseBackwardInputAvx(g, pgo, pw, pgi);
                else DepthwiseBackwardInput(g, pgo, pw, pgi);
                return;
            }
            if (UseInputGradAsForward(g, out var flipped))
            {
                BackwardInputAsForward(g, flipped, pgo, pw, pgi);
                return;
            }
            var plan = new Plan(g);
            nint igo = (nint)pgo, iw = (nint)pw, igi = (nint)pgi;
            if (plan.Parallel)
                Parallelism.For(0, plan.Chunks, ch => BackwardInputChunk(plan, ch, (float*)igo, (float*)iw, (float*)igi));
            else
                for (int ch = 0; ch < plan.Chunks; ch++) BackwardInputChunk(plan, ch, pgo, pw, pgi);
        }
    }

    private static void BackwardInputChunk(in Plan p, int chunk, float* gradOut, float* weight, float* gradIn)
    {
        var g = p.G;
        int b0 = p.ChunkStart(chunk), nbc = p.ChunkSize(chunk), ncols = nbc * p.OHW;
        int threads = Parallelism.AvailableThreads;
        if (p.Direct1x1 && nbc == 1)
        {
            // gradIn_g [CInG × HW] = W_gᵀ [CInG × COutG] · gradOut_g [COutG × HW]
            for (int gr = 0; gr < g.Groups; gr++)
                Gemm.SgemmCore(true, false, p.CInG, p.OHW, p.COutG, 1f, weight + (nint)gr * p.COutG * p.K, p.K,
                    gradOut + b0 * p.OutImg + (nint)gr * p.COutG * p.OHW, p.OHW, 0f,
                    gradIn + b0 * p.InImg + gr * p.CInG * p.Plane, p.Plane, threads);
            return;
        }
        float[] colArr = ScratchPool.Rent((long)p.KRows * ncols);
        float[]? tmpArr = nbc > 1 ? ScratchPool.Rent((long)g.COut * ncols) : null;
        try
        {
            fixed (float* col = colArr) fixed (float* tmp = tmpArr)
            {
                float* gmat = nbc > 1 ? GatherBatch(gradOut + b0 * p.OutImg, nbc, g.COut, p.OHW, p.OutImg, tmp) : gradOut + b0 * p.OutImg;
                nint ldg = nbc > 1 ? ncols : p.OHW;
                for (int gr = 0; gr < g.Groups; gr++)
                    Gemm.SgemmCore(true, false, p.K, ncols, p.COutG, 1f, weight + (nint)gr * p.COutG * p.K, p.K,
                        gmat + (nint)gr * p.COutG * ldg, ldg, 0f, col + (nint)gr * p.K * ncols, ncols, threads);
                for (int bi = 0; bi < nbc; bi++)
                {
                    float* img = gradIn + (b0 + bi) * p.InImg;
                    new Span<float>(img, (int)p.InImg).Clear();
                    Im2Col.AddFromColumns(col + bi * p.OHW, ncols, g.CIn, g.H, g.W, g.KH, g.KW, g.StrideH, g.StrideW,
                        g.PadH, g.PadW, g.DilH, g.DilW, p.OH, p.OW, img);
                }
            }
        }
        finally
        {
            ScratchPool.Return(colArr);
            if (tmpArr != null) ScratchPool.Return(tmpArr);
        }
    }

    /// <summary>dst[c, bi·plane + s] = src[bi·imgStride + c·plane + s]: nbc NCHW images → one [C × nbc·plane] matrix.</summary>
    private static float* GatherBatch(float* src, int nbc, int channels, int plane, nint imgStride, float* dst)
    {
        nint ld = (nint)nbc * plane;
        for (int bi = 0; bi < nbc; bi++)
            for (int c = 0; c < channels; c++)
                new ReadOnlySpan<float>(src + bi * imgStride + (nint)c * plane, plane)
                    .CopyTo(new Span<float>(dst + c * ld + (nint)bi * plane, plane));
        return dst;
    }

    // ---------------------------------------------------------------- backward (weight, bias)

    /// <summary>
    /// gradWeight = (or, with <paramref name="accumulate"/>, +=) Σ gradOut·colᵀ; gradBias (if not empty) is always
    /// overwritten. Accumulating lets autograd add straight into a parameter's existing .Grad without a temporary.
    /// </summary>
    public static void BackwardWeight(in Conv2dGeometry g, ReadOnlySpan<float> input, ReadOnlySpan<float> gradOutput,
        Span<float> gradWeight, Span<float> gradBias, bool accumulate = false)
    {
        g.Validate();
        CheckLength(input.Length, g.InputLength, nameof(input));
        CheckLength(gradOutput.Length, g.OutputLength, nameof(gradOutput));
        CheckLength(gradWeight.Length, g.WeightLength, nameof(gradWeight));
        if (!gradBias.IsEmpty) CheckLength(gradBias.Length, g.COut, nameof(gradBias));
        if (!gradBias.IsEmpty) BiasGrad(g, gradOutput, gradBias[..g.COut]);
        int wlen = (int)g.WeightLength;
        if (g.N == 0) { if (!accumulate) gradWeight[..wlen].Clear(); return; }
        if (accumulate && DepthwiseSupported(g))
        {
            // Kernels that only overwrite: compute into a temporary and add.
            float[] tmp = ScratchPool.Rent(wlen);
            try
            {
                BackwardWeight(g, input, gradOutput, tmp.AsSpan(0, wlen), Span<float>.Empty);
                TensorPrimitives.Add(gradWeight[..wlen], tmp.AsSpan(0, wlen), gradWeight[..wlen]);
            }
            finally { ScratchPool.Return(tmp); }
            return;
        }

        fixed (float* pi = input) fixed (float* pgo = gradOutput) fixed (float* pgw = gradWeight)
        {
            if (DepthwiseSupported(g))
            {
                if (DepthwiseAvxSupported(g)) DepthwiseBackwardWeightAvx(g, pi, pgo, pgw);
                else DepthwiseBackwardWeight(g, pi, pgo, pgw);
                return;
            }
            if (DirectConv.Use(g))
            {
                DirectConv.BackwardWeight(g, pi, pgo, pgw, accumulate);
                return;
            }
            var plan = new Plan(g);
            if (!plan.Parallel)
            {
                for (int ch = 0; ch < plan.Chunks; ch++) WeightChunk(plan, ch, pi, pgo, pgw, ch == 0 && !accumulate);
                return;
            }
            // Each worker reduces a contiguous run of chunks into its own buffer (worker 0: gradWeight itself).
            int workers = Math.Min(Parallelism.AvailableThreads, plan.Chunks);
            var partials = new float[workers - 1][];
            for (int w = 1; w < workers; w++) partials[w - 1] = ScratchPool.Rent(wlen);
            try
            {
                nint ii = (nint)pi, igo = (nint)pgo, igw = (nint)pgw;
                Parallelism.ForRanges(plan.Chunks, workers, (w, c0, c1) =>
                {
                    fixed (float* part = w == 0 ? null : partials[w - 1])
                    {
                        float* dst = w == 0 ? (float*)igw : part;
                        for (int ch = c0; ch < c1; ch++) WeightChunk(plan, ch, (float*)ii, (float*)igo, dst, ch == c0 && !(accumulate && w == 0));
                    }
                });
                AddPartials(pgw, partials, wlen);
            }
            finally
            {
                foreach (var part in partials) ScratchPool.Return(part);
            }
        }
    }

    /// <summary>
    /// dst += partials[0] + partials[1] + … (in that order for every element, whatever the thread count), split
    /// across threads: VGG's 512×512×3×3 gradient is 2.4M floats, a millisecond per layer on one thread while
    /// the other waits.
    /// </summary>
    internal static void AddPartials(float* dst, float[][] partials, int length)
    {
        if (partials.Length == 0) return;
        nint id = (nint)dst;
        const int Block = 1 << 14;
        int blocks = (length + Block - 1) / Block;
        Action<int, int, int> body = (_, b0, b1) =>
        {
            int s0 = b0 * Block, s1 = Math.Min(length, b1 * Block);
            var d = new Span<float>((float*)id + s0, s1 - s0);
            foreach (var part in partials) TensorPrimitives.Add(d, part.AsSpan(s0, s1 - s0), d);
        };
        if (length >= 1 << 17) Parallelism.ForRanges(blocks, Parallelism.AvailableThreads, body);
        else body(0, 0, blocks);
    }

    /// <summary>dst (+)= Σ over the chunk's images of gradOut_g · colᵀ, per group (im2col fused into B packing).</summary>
    private static void WeightChunk(in Plan p, int chunk, float* input, float* gradOut, float* dst, bool first)
    {
        var g = p.G;
        int b0 = p.ChunkStart(chunk), nbc = p.ChunkSize(chunk), ncols = nbc * p.OHW;
        int threads = Parallelism.AvailableThreads;
        float beta = first ? 0f : 1f;
        if (p.Direct1x1 && nbc == 1)
        {
            for (int gr = 0; gr < g.Groups; gr++)
                Gemm.SgemmCore(false, true, p.COutG, p.K, p.OHW, 1f,
                    gradOut + b0 * p.OutImg + (nint)gr * p.COutG * p.OHW, p.OHW,
                    input + b0 * p.InImg + gr * p.CInG * p.Plane, p.Plane, beta,
                    dst + (nint)gr * p.COutG * p.K, p.K, threads);
            return;
        }
        float[]? tmpArr = nbc > 1 ? ScratchPool.Rent((long)g.COut * ncols) : null;
        try
        {
            fixed (float* tmp = tmpArr)
            {
                float* gmat = nbc > 1 ? GatherBatch(gradOut + b0 * p.OutImg, nbc, g.COut, p.OHW, p.OutImg, tmp) : gradOut + b0 * p.OutImg;
                nint ldg = nbc > 1 ? ncols : p.OHW;
                for (int gr = 0; gr < g.Groups; gr++)
                {
                    var cols = new Im2ColTransposedSource(input + b0 * p.InImg + gr * p.CInG * p.Plane, p.InImg, g.H, g.W,
                        g.KH, g.KW, g.StrideH, g.StrideW, g.PadH, g.PadW, g.DilH, g.DilW, p.OH, p.OW);
                    Gemm.SgemmWithSource(false, p.COutG, p.K, ncols, 1f, gmat + (nint)gr * p.COutG * ldg, ldg,
                        cols, beta, dst + (nint)gr * p.COutG * p.K, p.K, threads);
                }
            }
        }
        finally
        {
            if (tmpArr != null) ScratchPool.Return(tmpArr);
        }
    }

    /// <summary>gradBias[c] = Σ_{n,y,x} gradOut[n,c,y,x] (float per plane, double across planes).</summary>
    private static void BiasGrad(in Conv2dGeometry g, ReadOnlySpan<float> gradOutput, Span<float> gradBias)
    {
        int ohw = g.OutH * g.OutW, cout = g.COut, n = g.N;
        fixed (float* pgo = gradOutput) fixed (float* pgb = gradBias)
        {
            nint igo = (nint)pgo, igb = (nint)pgb;
            Action<int> body = c =>
            {
                double s = 0;
                for (int b = 0; b < n; b++)
                    s += TensorPrimitives.Sum(new ReadOnlySpan<float>((float*)igo + ((nint)b * cout + c) * ohw, ohw));
                ((float*)igb)[c] = (float)s;
            };
            if ((long)n * cout * ohw >= 1 << 18) Parallelism.For(0, cout, body);
            else for (int c = 0; c < cout; c++) body(c);
        }
    }
}
