using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// Convolution without im2col ("implicit GEMM" over a zero-padded copy of each image; with stride s, the copy
/// is split into s² phase planes so that strided convolutions read like stride-1 ones, see Layout).
/// With stride 1, the im2col row of kernel tap k = (c, i, j) restricted to 8 consecutive output pixels of one
/// output row is 8 consecutive floats of the padded image at <c>off[k] + y·Wp + x</c>. So the micro-kernels read
/// B straight from the padded image (one offset-table load per k) instead of packing a column matrix: the
/// packing pass, which costs as much as the arithmetic when there are only 16–64 output channels (ResNet-20…110,
/// LeNet), disappears; padding costs one copy of the input.
/// <list type="bullet">
/// <item>forward: C tile = 6 (or 4) output channels × 16 consecutive output pixels (two 8-pixel halves, each in
/// one output row), weight rows read in place per channel panel, K blocked; for stride 1 with widths that are not a
/// multiple of the tile's row run, a compact copy per group of images (Layout) makes every vector one load;</item>
/// <item>input gradient: the forward kernel on the output gradient with the flipped, transposed weights and
/// padding d·(k−1)−p (a stride-1 transposed convolution is a stride-1 convolution; Conv2dInputGrad.cs);</item>
/// <item>weight gradient: 4 output channels × 3 kernel taps of dot products over all pixels of a group of
/// images, 8 pixels per vector, reduced once per group (AVX-512: 8 channels × 3 taps, 16 pixels per vector).</item>
/// </list>
/// Used for groups = 1, output width a multiple of 8 and output plane a multiple of 16, on AVX2/FMA (the input
/// gradient: stride 1 only); the forward also for any stride-1 geometry on the compact layout (<see cref="UseForward"/>). With AVX-512 the forward (and so the input gradient) pairs 16-pixel tiles into
/// 32-pixel zmm tiles (DirectConvAvx512.cs).
/// </summary>
internal static unsafe partial class DirectConv
{
    /// <summary>
    /// Test/bench hook: null = automatic choice, true/false = force this path on/off where supported. Per thread
    /// and handed to parallel workers (<see cref="KernelSwitches"/>), so a test forcing it cannot change another
    /// test's results.
    /// </summary>
    internal static bool? Force { get => KernelSwitches.Current.DirectConv; set => KernelSwitches.Current.DirectConv = value; }

    private const int TileP = 16;   // output pixels per forward tile
    private const int KBlock = 512; // forward k block (A panel 6×512 floats = 12 KB)
    /// <summary>16-pixel tiles per pass over the weight panels (even; bench hook). With weights read in place, a
    /// 512-channel k block is 512 KB: 8 tiles share each panel's 6 KB while it is in L1, at the price of the tiles'
    /// taps (kc·128 B each) coming from L2.</summary>
    internal static int TileBlock = 8;
    /// <summary>Compact groups grow (doubling, while the batch has the images) to at least this many output pixels: one
    /// tile block, so VGG's 4×4 and 2×2 layers read their weights once per 128 pixels (bench hook).</summary>
    internal static int UnitPixels = 128;
    /// <summary>AVX-512 k block (bench hook): a 512-channel block of weights, 512·kc·4 B, fits L2, and a 32-pixel
    /// tile's taps, kc·128 B, fit L1.</summary>
    internal static int KBlock512 = 256;

    public static bool Supported(in Conv2dGeometry g) =>
        Gemm.UseFma && g.Groups == 1
        && g.OutW % 8 == 0 && g.OutH * g.OutW % TileP == 0
        && (long)g.CIn * (g.H + 2 * g.PadH + g.StrideH) * (g.W + 2 * g.PadW + g.StrideW) < int.MaxValue / 4;

    /// <summary>
    /// Whether the forward runs on the compact layout (<see cref="Layout"/>): stride 1 with an output width that is
    /// not a multiple of the vector tile's row run (16 pixels with AVX-512, whose 32-pixel tile would otherwise join
    /// two 8-pixel halves of different padded rows into one zmm: on Zen 5 that ran VGG's 256→256 8×8 layer at 83
    /// GFLOP/s per core on two threads against 190 on one; 8 with AVX2), and maps small enough that a group of
    /// images filling whole tiles needs no large buffer.
    /// </summary>
    private static bool CompactLayout(in Conv2dGeometry g) =>
        g.StrideH == 1 && g.StrideW == 1 && g.OutW % (KernelIsa.UseAvx512 ? TileP : TileP / 2) != 0
        && (g.COut > NarrowCOut || !Supported(g))
        && (long)CompactGroup(g) * g.OutH * g.OutW <= 4096
        && (long)g.CIn * g.KW * (g.H + 2 * g.PadH) * CompactGroup(g) * g.OutW < int.MaxValue / 4;

    /// <summary>Images per compact group: the fewest whose output pixels fill whole 32-pixel (AVX-512) or 16-pixel tiles, doubled up to a tile block.</summary>
    private static int CompactGroup(in Conv2dGeometry g)
    {
        int tile = KernelIsa.UseAvx512 ? 2 * TileP : TileP, ohw = g.OutH * g.OutW;
        int group = tile / Gcd(ohw, tile);
        while ((long)group * ohw < UnitPixels && 2 * group <= Math.Max(1, g.N)) group *= 2;
        return group;
    }

    private static int Gcd(int a, int b) { while (b != 0) (a, b) = (b, a % b); return a; }

    /// <summary>Geometries the direct forward handles: stride-1 ones on the compact layout, else <see cref="Supported"/> ones.</summary>
    public static bool SupportedForward(in Conv2dGeometry g) =>
        Gemm.UseFma && g.Groups == 1 && (CompactLayout(g) || Supported(g));

    /// <summary>
    /// Whether the weight gradient uses the direct path. It wins where the im2col packing is a large share of the
    /// work: few output channels per packed column (≤ 64), i.e. the narrow layers of ResNets and LeNet; wide layers
    /// (VGG's 128–512 channels) amortise packing and stay on the blocked GEMM.
    /// </summary>
    public static bool Use(in Conv2dGeometry g) => Supported(g) && (Force ?? g.COut <= 64);

    /// <summary>Output channels up to which the direct path was the choice before the compact layout (ResNet, LeNet).</summary>
    private const int NarrowCOut = 64;

    /// <summary>
    /// Whether the forward uses the direct path. Without im2col it beats the blocked GEMM on wide layers too (VGG-16's
    /// 64→128…256→256 layers at 16×16 and 8×8, single thread, process CPU time, Zen 5: AVX-512 ~150 → ~175-185
    /// GFLOP/s, AVX2 ~88 → ~104), and the compact layout takes it to VGG's 4×4 and 2×2 maps (at par or slightly
    /// ahead). Narrow layers (≤ 64 channels) keep the padded-row layout where it applies, else the GEMM: there the
    /// compact copy and the scatter cost more than they save (ResNet-56's 64-channel 8×8 layer: 1.75 → 2.5 ms).
    /// </summary>
    public static bool UseForward(in Conv2dGeometry g) =>
        SupportedForward(g) && (Force ?? (g.COut > NarrowCOut || Supported(g) && !CompactLayout(g)));

    // ---------------------------------------------------------------- shared layout

    /// <summary>
    /// The padded copy of one image. With stride s the padded image is split into s_h·s_w phase planes per
    /// channel (rows ≡ a mod s_h, columns ≡ b mod s_w), each Hq×Wq: output pixels x, x+1, … of a tap then read
    /// consecutive floats of one phase plane, so strided convolutions use the same stride-1 kernels.
    /// <para>
    /// Compact (stride 1 only, <see cref="CompactLayout"/>): one copy per group of G images, [C][KW][Hp][G][OW] with
    /// element (c, j, y, n, x) = padded image n at (c, y, x + j·d_w). Tap (c, i, j) of output pixel (y, n, x) is then at
    /// ((c·KW + j)·Hp + i·d_h)·G·OW + (y·G + n)·OW + x: the group's output pixels, ordered (y, n, x), read consecutive
    /// floats of every tap however narrow the map, so each zmm is one load (KW times the padded copy's floats, no
    /// im2col). With G &gt; 1 the tiles write that order to a scratch block, scattered to NCHW after.
    /// </para>
    /// </summary>
    private readonly struct Layout
    {
        public readonly int C, H, W, Hp, Wp, OH, OW, OHW, K, COut, PadH, PadW, SH, SW, Hq, Wq, KW, DilW, DilH;
        /// <summary>Images per unit (compact group; 1 otherwise).</summary>
        public readonly int G;
        public readonly bool Compact;
        /// <summary>Tile addressing within a unit: output pixel p reads xp + (p / RunW)·RunPitch + p % RunW + off[k].</summary>
        public readonly int RunW, RunPitch, UnitOHW;
        /// <summary>Floats of one unit's padded copy.</summary>
        public readonly nint PaddedImg;

        public Layout(in Conv2dGeometry g, bool compact = false)
        {
            C = g.CIn; H = g.H; W = g.W; PadH = g.PadH; PadW = g.PadW; SH = g.StrideH; SW = g.StrideW;
            KW = g.KW; DilW = g.DilW; DilH = g.DilH;
            Hp = g.H + 2 * g.PadH; Wp = g.W + 2 * g.PadW;
            Hq = (Hp + SH - 1) / SH; Wq = (Wp + SW - 1) / SW;
            OH = g.OutH; OW = g.OutW; OHW = OH * OW; K = g.CIn * g.KH * g.KW; COut = g.COut;
            Compact = compact;
            if (compact)
            {
                G = CompactGroup(g);
                UnitOHW = G * OHW;
                RunW = RunPitch = UnitOHW;
                PaddedImg = (nint)C * KW * Hp * G * OW;
            }
            else
            {
                G = 1;
                UnitOHW = OHW; RunW = OW; RunPitch = Wq;
                PaddedImg = (nint)C * SH * SW * Hq * Wq;
            }
        }

        /// <summary>Offset in the padded copy of tap k = (c, i, j) for output pixel (0, 0); pixel (y, x) adds y·Wq + x.</summary>
        public void FillOffsets(in Conv2dGeometry g, int* off)
        {
            int k = 0;
            for (int c = 0; c < C; c++)
                for (int i = 0; i < g.KH; i++)
                    for (int j = 0; j < g.KW; j++)
                    {
                        int ry = i * g.DilH, rx = j * g.DilW;
                        if (Compact) { off[k++] = ((c * KW + j) * Hp + ry) * G * OW; continue; }
                        int plane = (c * SH + ry % SH) * SW + rx % SW;
                        off[k++] = (plane * Hq + ry / SH) * Wq + rx / SW;
                    }
        }

        /// <summary>Copies one C×H×W image into its padded (phase-split when strided) copy with zero borders.</summary>
        public void Pad(float* src, float* dst)
        {
            if (SH == 1 && SW == 1 && PadH == 0 && PadW == 0)
            {
                Buffer.MemoryCopy(src, dst, PaddedImg * 4, PaddedImg * 4);
                return;
            }
            if (SH == 1 && SW == 1)
            {
                for (int c = 0; c < C; c++)
                {
                    float* d = dst + (nint)c * Hp * Wp;
                    new Span<float>(d, PadH * Wp).Clear();
                    new Span<float>(d + (nint)(PadH + H) * Wp, PadH * Wp).Clear();
                    float* s = src + (nint)c * H * W;
                    for (int y = 0; y < H; y++)
                    {
                        float* row = d + (nint)(y + PadH) * Wp;
                        for (int x = 0; x < PadW; x++) { row[x] = 0f; row[PadW + W + x] = 0f; }
                        Buffer.MemoryCopy(s + (nint)y * W, row + PadW, W * 4, W * 4);
                    }
                }
                return;
            }
            new Span<float>(dst, (int)PaddedImg).Clear();
            for (int c = 0; c < C; c++)
            {
                float* s = src + (nint)c * H * W;
                for (int y = 0; y < H; y++)
                {
                    int py = y + PadH;
                    float* sr = s + (nint)y * W;
                    for (int b = 0; b < SW; b++)
                    {
                        // Phase plane b of this row: padded columns b, b + SW, … (input column px − PadW).
                        float* d = dst + ((((nint)c * SH + py % SH) * SW + b) * Hq + py / SH) * Wq;
                        int q0 = Math.Max(0, (PadW - b + SW - 1) / SW), q1 = Math.Min(Wq, (W + PadW - b + SW - 1) / SW);
                        for (int q = q0, x = q0 * SW + b - PadW; q < q1; q++, x += SW) d[q] = sr[x];
                    }
                }
            }
        }

        /// <summary>
        /// Writes the compact copy of images src, src + C·H·W, … (<paramref name="count"/> ≤ G of them; the group's
        /// other slots are zeroed).
        /// </summary>
        public void PadCompact(float* src, int count, float* dst)
        {
            int gw = G * OW;
            nint img = (nint)C * H * W;
            for (int c = 0; c < C; c++)
                for (int j = 0; j < KW; j++)
                {
                    int sx0 = j * DilW - PadW; // input column of output column 0 for this tap column
                    int x0 = Math.Clamp(-sx0, 0, OW), x1 = Math.Clamp(W - sx0, x0, OW);
                    float* d = dst + ((nint)c * KW + j) * Hp * gw;
                    for (int yp = 0; yp < Hp; yp++, d += gw)
                    {
                        int sy = yp - PadH;
                        if (sy < 0 || sy >= H) { new Span<float>(d, gw).Clear(); continue; }
                        float* s = src + ((nint)c * H + sy) * W + sx0;
                        float* dn = d;
                        for (int n = 0; n < count; n++, dn += OW, s += img)
                        {
                            for (int x = 0; x < x0; x++) dn[x] = 0f;
                            for (int x = x0; x < x1; x++) dn[x] = s[x];
                            for (int x = x1; x < OW; x++) dn[x] = 0f;
                        }
                        if (count < G) new Span<float>(dn, (G - count) * OW).Clear();
                    }
                }
        }

        /// <summary>y[n, co, yy, x] = t[co, yy, n, x] for the first <paramref name="count"/> images of a compact group.</summary>
        public void Scatter(float* t, int count, float* y) => Transfer(t, y, count, toNchw: true);

        /// <summary>t[co, yy, n, x] = r[n, co, yy, x]: the inverse of <see cref="Scatter"/> (a residual into the tile order).</summary>
        public void Gather(float* r, int count, float* t) => Transfer(t, r, count, toNchw: false);

        /// <summary>Copies each output row between the group's tile order [co][yy][n][x] and NCHW, in either direction.</summary>
        private void Transfer(float* tile, float* nchw, int count, bool toNchw)
        {
            int gw = G * OW;
            long rowBytes = (long)OW * sizeof(float);
            for (int n = 0; n < count; n++)
                for (int co = 0; co < COut; co++)
                {
                    float* t = tile + (nint)co * UnitOHW + n * OW, p = nchw + ((nint)n * COut + co) * OHW;
                    for (int yy = 0; yy < OH; yy++, t += gw, p += OW)
                        if (toNchw) Buffer.MemoryCopy(t, p, rowBytes, rowBytes);
                        else Buffer.MemoryCopy(p, t, rowBytes, rowBytes);
                }
        }
    }

    /// <summary>Channel panels: 6 rows while more than 8 remain (or a multiple of 6), then 4s (16 = 6+6+4, 32 = 6·4+4+4).</summary>
    private static int PanelRows(int remaining) =>
        remaining % 6 == 0 || remaining > 8 ? 6 : remaining <= 4 ? 4 : remaining <= 6 ? 6 : 4;

    [ThreadStatic] private static NativeScratch? t_padded;

    // ---------------------------------------------------------------- forward

    /// <summary>y = conv(x, w) + bias for a supported geometry (<see cref="Supported"/>).</summary>
    /// <param name="scale">With <paramref name="shift"/>: y = (conv + bias)·scale + shift per output channel (an eval
    /// BatchNorm folded into the store); null for none.</param>
    /// <param name="residual">With <paramref name="scale"/>: added after the affine map, before ReLU (a residual
    /// block's shortcut); the same NCHW shape as y. Null for none.</param>
    /// <param name="relu">Apply ReLU last.</param>
    public static void Forward(in Conv2dGeometry g, float* x, float* w, float* bias, float* y,
        float* scale = null, float* shift = null, bool relu = false, float* residual = null)
    {
        var L = new Layout(g, CompactLayout(g));
        int K = L.K, kBlocks = Gemm.CeilDiv(K, KernelIsa.UseAvx512 ? KBlock512 : KBlock), kb = Gemm.CeilDiv(K, kBlocks);

        int[] offArr = System.Buffers.ArrayPool<int>.Shared.Rent(K);
        try
        {
            fixed (int* off = offArr)
            {
                L.FillOffsets(g, off);
                // Groups of G > 1 images store tiles in (y, n, x) order into scratch: a residual is gathered into the
                // same order right after that block, so the tile's residual is at the same distance as in NCHW.
                bool staged = L.G > 1;
                nint tileBlock = (nint)g.COut * L.UnitOHW;
                var job = new ForwardJob(L, K, kBlocks, kb, w, off, bias, g.COut, scale, shift, relu,
                    residual == null ? null : new ResidualAdd(staged ? tileBlock : (nint)(residual - y)));
                var unit = new Unit(L, x, y, residual, tileBlock, g.N);
                int threads = Parallelism.AvailableThreads;
                int tiles = L.UnitOHW / TileP, units = Gemm.CeilDiv(g.N, L.G);
                if (threads == 1 || units % threads == 0 || units >= 4 * threads)
                {
                    Parallelism.ForRanges(units, threads, (_, u0, u1) =>
                    {
                        float* xp = (t_padded ??= new NativeScratch()).Get(job.L.PaddedImg);
                        float* st = staged ? (t_staged ??= new NativeScratch()).Get(2 * tileBlock) : null;
                        for (int u = u0; u < u1; u++)
                        {
                            job.Run(xp, unit.Prepare(u, xp, st), 0, tiles);
                            unit.Finish(u, st);
                        }
                    });
                }
                else
                {
                    // Few units: pad on this thread, split the tiles of each unit across threads.
                    float* xp = (t_padded ??= new NativeScratch()).Get(L.PaddedImg);
                    float* st = staged ? (t_staged ??= new NativeScratch()).Get(2 * tileBlock) : null;
                    nint ixp = (nint)xp;
                    for (int u = 0; u < units; u++)
                    {
                        nint yo = (nint)unit.Prepare(u, xp, st);
                        Parallelism.ForRanges(tiles, threads, (_, t0, t1) => job.Run((float*)ixp, (float*)yo, t0, t1));
                        unit.Finish(u, st);
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(offArr);
        }
    }

    [ThreadStatic] private static NativeScratch? t_staged;

    /// <summary>One unit of the forward's work: an image, or a compact group of G images.</summary>
    private readonly struct Unit(Layout l, float* x, float* y, float* residual, nint tileBlock, int n)
    {
        private readonly Layout L = l;
        private readonly nint X = (nint)x, Y = (nint)y, R = (nint)residual;

        private int Count(int u) => Math.Min(L.G, n - u * L.G);
        private nint InImg => (nint)L.C * L.H * L.W;
        private nint OutImg => (nint)L.COut * L.OHW;

        /// <summary>Pads unit u into xp; returns where its tiles go (the output, or the staging block st).</summary>
        public float* Prepare(int u, float* xp, float* st)
        {
            int n0 = u * L.G;
            if (!L.Compact)
            {
                L.Pad((float*)X + n0 * InImg, xp);
                return (float*)Y + n0 * OutImg;
            }
            L.PadCompact((float*)X + n0 * InImg, Count(u), xp);
            if (L.G == 1) return (float*)Y + n0 * OutImg;
            if (R != 0) L.Gather((float*)R + n0 * OutImg, Count(u), st + tileBlock);
            return st;
        }

        /// <summary>Moves a staged unit's tiles to the output.</summary>
        public void Finish(int u, float* st)
        {
            if (L.G > 1) L.Scatter(st, Count(u), (float*)Y + u * L.G * OutImg);
        }
    }

    private readonly struct ForwardJob(Layout l, int k, int kBlocks, int kb, float* w, int* off, float* bias, int cout,
        float* scale, float* shift, bool relu, ResidualAdd? residual)
    {
        public readonly Layout L = l;
        public readonly int COut = cout;

        /// <summary>Output tiles [t0, t1) of one unit: y [COut × UnitOHW] from its padded copy xp.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(float* xp, float* y, int t0, int t1)
        {
            int ow = L.RunW, wp = L.RunPitch, ohw = L.UnitOHW;
            bool wide = KernelIsa.UseAvx512;
            for (int b = 0; b < kBlocks; b++)
            {
                int k0 = b * kb, kc = Math.Min(kb, k - k0);
                bool first = b == 0, last = b == kBlocks - 1;
                float* biasB = first ? bias : null;
                // A block of tiles per pass over the channel panels: each panel's weights (≤ 12 KB) serve the whole
                // block from L1 instead of streaming all COut·kc weights past every tile (VGG's 512-channel layers:
                // 1 MB per k block).
                for (int tb = t0; tb < t1; tb += TileBlock)
                {
                    int te = Math.Min(t1, tb + TileBlock);
                    for (int r0 = 0; r0 < COut; )
                    {
                        int pr = PanelRows(COut - r0), mr = Math.Min(pr, COut - r0);
                        float* a = w + (nint)r0 * k + k0; // the panel's rows, k apart
                        var e = new Epilogue(!first, biasB == null ? null : biasB + r0, last && scale != null ? scale + r0 : null,
                            last && scale != null ? shift + r0 : null, last && relu, last ? residual : null);
                        for (int t = tb; t < te; t++)
                        {
                            int p0 = t * TileP;
                            float* c = y + (nint)r0 * ohw + p0;
                            if (wide && t + 1 < te)
                            {
                                // Two 16-pixel tiles at once as one 32-pixel AVX-512 tile.
                                Tile32(pr, kc, a, k, off + k0, xp, p0, ow, wp, c, ohw, mr, e);
                                t++;
                                continue;
                            }
                            int p1 = p0 + 8;
                            int y0 = p0 / ow, y1 = p1 / ow;
                            float* b0 = xp + (nint)y0 * wp + (p0 - y0 * ow);
                            float* b1 = xp + (nint)y1 * wp + (p1 - y1 * ow);
                            if (pr == 6) Kernel6x16(kc, a, k, off + k0, b0, b1, c, ohw, mr, e);
                            else Kernel4x16(kc, a, k, off + k0, b0, b1, c, ohw, mr, e);
                        }
                        r0 += pr;
                    }
                }
            }
        }

    }

    /// <summary>
    /// What a tile store does besides writing the sums: add to what the earlier k blocks stored, add the bias
    /// (first block), and on the last block apply a per-channel affine (a following eval BatchNorm), add a
    /// residual and apply ReLU. Pointers are already offset to the tile's first channel.
    /// </summary>
    private readonly struct Epilogue(bool accumulate, float* bias, float* scale, float* shift, bool relu, ResidualAdd? residual = null)
    {
        public readonly bool Accumulate = accumulate, Relu = relu, HasResidual = residual.HasValue;
        public readonly float* Bias = bias, Scale = scale, Shift = shift;
        /// <summary>Residual element of output element c: c + ResidualDelta (same layout as the output).</summary>
        public readonly nint ResidualDelta = residual?.Delta ?? 0;
    }

    /// <summary>A tensor of the output's shape added to it, as its distance (in floats) from the output.</summary>
    private readonly record struct ResidualAdd(nint Delta);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(float* c, Vector256<float> lo, Vector256<float> hi, in Epilogue e, int r)
    {
        if (e.Accumulate)
        {
            lo += Avx.LoadVector256(c);
            hi += Avx.LoadVector256(c + 8);
        }
        if (e.Bias != null)
        {
            var bv = Vector256.Create(e.Bias[r]);
            lo += bv; hi += bv;
        }
        if (e.Scale != null)
        {
            // Same rounding as the BatchNorm kernel's fused multiply-add.
            var sv = Vector256.Create(e.Scale[r]); var tv = Vector256.Create(e.Shift[r]);
            lo = Fma.MultiplyAdd(lo, sv, tv); hi = Fma.MultiplyAdd(hi, sv, tv);
        }
        if (e.HasResidual)
        {
            lo += Avx.LoadVector256(c + e.ResidualDelta);
            hi += Avx.LoadVector256(c + e.ResidualDelta + 8);
        }
        if (e.Relu)
        {
            // max(0, v) keeps NaN, like the ReLU kernel.
            lo = Avx.Max(Vector256<float>.Zero, lo); hi = Avx.Max(Vector256<float>.Zero, hi);
        }
        Avx.Store(c, lo);
        Avx.Store(c + 8, hi);
    }

    /// <summary>
    /// The weight rows of a 6-channel panel, read in place (w is [COut × K], rows lda apart): no packed copy, whose
    /// transpose cost ~0.8 ns per weight (1.8 ms for a 512×4608 layer, per call). Rows past <paramref name="mr"/>
    /// repeat the last one (computed, never stored).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows6(float* a, nint lda, int mr, out float* a0, out float* a1, out float* a2, out float* a3,
        out float* a4, out float* a5)
    {
        a0 = a; a1 = a + Math.Min(1, mr - 1) * lda; a2 = a + Math.Min(2, mr - 1) * lda;
        a3 = a + Math.Min(3, mr - 1) * lda; a4 = a + Math.Min(4, mr - 1) * lda; a5 = a + Math.Min(5, mr - 1) * lda;
    }

    /// <summary>As <see cref="Rows6"/> for a 4-channel panel.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Rows4(float* a, nint lda, int mr, out float* a0, out float* a1, out float* a2, out float* a3)
    {
        a0 = a; a1 = a + Math.Min(1, mr - 1) * lda; a2 = a + Math.Min(2, mr - 1) * lda; a3 = a + Math.Min(3, mr - 1) * lda;
    }

    /// <summary>6 output channels × 16 pixels over kc taps; stores the first mr rows (ldc = output plane).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel6x16(int kc, float* a, nint lda, int* off, float* b0, float* b1, float* c, nint ldc, int mr,
        in Epilogue e)
    {
        Rows6(a, lda, mr, out float* a0, out float* a1, out float* a2, out float* a3, out float* a4, out float* a5);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            nint o = off[p];
            Vector256<float> v0 = Avx.LoadVector256(b0 + o), v1 = Avx.LoadVector256(b1 + o);
            Vector256<float> av = Avx.BroadcastScalarToVector256(a0 + p);
            c00 = Fma.MultiplyAdd(av, v0, c00); c01 = Fma.MultiplyAdd(av, v1, c01);
            av = Avx.BroadcastScalarToVector256(a1 + p);
            c10 = Fma.MultiplyAdd(av, v0, c10); c11 = Fma.MultiplyAdd(av, v1, c11);
            av = Avx.BroadcastScalarToVector256(a2 + p);
            c20 = Fma.MultiplyAdd(av, v0, c20); c21 = Fma.MultiplyAdd(av, v1, c21);
            av = Avx.BroadcastScalarToVector256(a3 + p);
            c30 = Fma.MultiplyAdd(av, v0, c30); c31 = Fma.MultiplyAdd(av, v1, c31);
            av = Avx.BroadcastScalarToVector256(a4 + p);
            c40 = Fma.MultiplyAdd(av, v0, c40); c41 = Fma.MultiplyAdd(av, v1, c41);
            av = Avx.BroadcastScalarToVector256(a5 + p);
            c50 = Fma.MultiplyAdd(av, v0, c50); c51 = Fma.MultiplyAdd(av, v1, c51);
        }
        StoreRow(c, c00, c01, e, 0);
        if (mr > 1) StoreRow(c + ldc, c10, c11, e, 1);
        if (mr > 2) StoreRow(c + 2 * ldc, c20, c21, e, 2);
        if (mr > 3) StoreRow(c + 3 * ldc, c30, c31, e, 3);
        if (mr > 4) StoreRow(c + 4 * ldc, c40, c41, e, 4);
        if (mr > 5) StoreRow(c + 5 * ldc, c50, c51, e, 5);
    }

    /// <summary>4 output channels × 16 pixels (panel remainder of 4, or fewer rows zero-padded).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel4x16(int kc, float* a, nint lda, int* off, float* b0, float* b1, float* c, nint ldc, int mr,
        in Epilogue e)
    {
        Rows4(a, lda, mr, out float* a0, out float* a1, out float* a2, out float* a3);
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector256<float> c20 = default, c21 = default, c30 = default, c31 = default;
        for (int p = 0; p < kc; p++)
        {
            nint o = off[p];
            Vector256<float> v0 = Avx.LoadVector256(b0 + o), v1 = Avx.LoadVector256(b1 + o);
            Vector256<float> av = Avx.BroadcastScalarToVector256(a0 + p);
            c00 = Fma.MultiplyAdd(av, v0, c00); c01 = Fma.MultiplyAdd(av, v1, c01);
            av = Avx.BroadcastScalarToVector256(a1 + p);
            c10 = Fma.MultiplyAdd(av, v0, c10); c11 = Fma.MultiplyAdd(av, v1, c11);
            av = Avx.BroadcastScalarToVector256(a2 + p);
            c20 = Fma.MultiplyAdd(av, v0, c20); c21 = Fma.MultiplyAdd(av, v1, c21);
            av = Avx.BroadcastScalarToVector256(a3 + p);
            c30 = Fma.MultiplyAdd(av, v0, c30); c31 = Fma.MultiplyAdd(av, v1, c31);
        }
        StoreRow(c, c00, c01, e, 0);
        if (mr > 1) StoreRow(c + ldc, c10, c11, e, 1);
        if (mr > 2) StoreRow(c + 2 * ldc, c20, c21, e, 2);
        if (mr > 3) StoreRow(c + 3 * ldc, c30, c31, e, 3);
    }

    // ---------------------------------------------------------------- weight gradient

    /// <summary>
    /// Pixels a weight-gradient group should span so the per-group horizontal sums stay small while the group's
    /// padded images and gradients stay in L2 (bench hook). ResNet-56's three shapes with the AVX-512 8×3 tile,
    /// single thread, CPU time: 512 → 12.7 ms, 1024 → 11.7, 2048 → 12.2 in all.
    /// </summary>
    internal static int GroupPixels = 1024;

    /// <summary>gradW [COut × K] = Σ_n gradOut_n · col(x_n)ᵀ, per-thread partial sums reduced in a fixed order.</summary>
    public static void BackwardWeight(in Conv2dGeometry g, float* x, float* gradOut, float* gradW, bool accumulate = false)
    {
        var L = new Layout(g);
        int K = L.K, wlen = g.COut * K;
        int nb = Math.Clamp(GroupPixels / L.OHW, 1, Math.Max(1, g.N));
        int groups = Gemm.CeilDiv(g.N, nb);
        int threads = Math.Min(Parallelism.AvailableThreads, groups);
        int[] offArr = System.Buffers.ArrayPool<int>.Shared.Rent(K);
        var partials = new float[Math.Max(0, threads - 1)][];
        for (int i = 0; i < partials.Length; i++) partials[i] = ScratchPool.Rent(wlen);
        try
        {
            fixed (int* off = offArr)
            {
                L.FillOffsets(g, off);
                nint ix = (nint)x, igo = (nint)gradOut, igw = (nint)gradW, ioff = (nint)off;
                int n = g.N;
                Parallelism.ForRanges(groups, threads, (wk, g0, g1) =>
                {
                    fixed (float* part = wk == 0 ? null : partials[wk - 1])
                    {
                        float* dst = wk == 0 ? (float*)igw : part;
                        if (wk != 0 || !accumulate) new Span<float>(dst, wlen).Clear();
                        float* xp = (t_padded ??= new NativeScratch()).Get(L.PaddedImg * nb);
                        for (int grp = g0; grp < g1; grp++)
                        {
                            int i0 = grp * nb, cnt = Math.Min(nb, n - i0);
                            for (int i = 0; i < cnt; i++)
                                L.Pad((float*)ix + (nint)(i0 + i) * L.C * L.H * L.W, xp + i * L.PaddedImg);
                            WeightGroup(L, cnt, (float*)igo + (nint)i0 * L.COut * L.OHW, xp, (int*)ioff, dst);
                        }
                    }
                });
            }
            Conv2dKernels.AddPartials(gradW, partials, wlen);
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(offArr);
            foreach (var part in partials) ScratchPool.Return(part);
        }
    }

    [ThreadStatic] private static NativeScratch? t_gather;

    /// <summary>
    /// dst [COut × K] += contributions of <paramref name="cnt"/> consecutive images (padded copies in xp). The
    /// group's output gradient is gathered into one [COut × cnt·OHW] matrix and every 8-pixel vector gets its
    /// offset in xp from a table, so the kernel runs one flat loop however small the maps are.
    /// </summary>
    private static void WeightGroup(in Layout L, int cnt, float* go, float* xp, int* off, float* dst)
    {
        // The gather also aligns the gradient rows (64-byte scratch, planes of 16k pixels): the kernel's gradient
        // loads never split a cache line (reading the tensor in place when cnt = 1 was slower).
        int K = L.K, cout = L.COut, ohw = L.OHW, vecs = cnt * ohw / 8;
        nint ld = (nint)cnt * ohw;
        float* gbuf = (t_gather ??= new NativeScratch()).Get(cout * ld + vecs);
        int* xoff = (int*)(gbuf + cout * ld);
        for (int i = 0; i < cnt; i++)
            for (int c = 0; c < cout; c++)
                Buffer.MemoryCopy(go + ((nint)i * cout + c) * ohw, gbuf + c * ld + (nint)i * ohw, ohw * 4, ohw * 4);
        for (int i = 0, v = 0; i < cnt; i++)
            for (int y = 0; y < L.OH; y++)
                for (int x = 0; x < L.OW; x += 8)
                    xoff[v++] = (int)(i * L.PaddedImg) + y * L.Wq + x;

        if (KernelIsa.UseAvx512)
        {
            for (int r0 = 0; r0 < cout; r0 += 8)
            {
                int mr = Math.Min(8, cout - r0);
                for (int k0 = 0; k0 < K; k0 += 3)
                {
                    int nk = Math.Min(3, K - k0);
                    float* x0 = xp + off[k0], x1 = xp + off[k0 + Math.Min(1, nk - 1)], x2 = xp + off[k0 + Math.Min(2, nk - 1)];
                    float* d = dst + (nint)r0 * K + k0;
                    if (L.OW % 16 == 0) WeightKernel8x3Avx512<Contiguous16>(vecs, xoff, gbuf + r0 * ld, ld, x0, x1, x2, d, K, mr, nk);
                    else WeightKernel8x3Avx512<Halves16>(vecs, xoff, gbuf + r0 * ld, ld, x0, x1, x2, d, K, mr, nk);
                }
            }
            return;
        }
        for (int r0 = 0; r0 < cout; r0 += 4)
        {
            int mr = Math.Min(4, cout - r0);
            // Rows past COut repeat the last one (computed, never stored); likewise taps past K.
            float* g0 = gbuf + r0 * ld;
            float* g1 = gbuf + (r0 + Math.Min(1, mr - 1)) * ld;
            float* g2 = gbuf + (r0 + Math.Min(2, mr - 1)) * ld;
            float* g3 = gbuf + (r0 + Math.Min(3, mr - 1)) * ld;
            for (int k0 = 0; k0 < K; k0 += 3)
            {
                int nk = Math.Min(3, K - k0);
                float* x0 = xp + off[k0], x1 = xp + off[k0 + Math.Min(1, nk - 1)], x2 = xp + off[k0 + Math.Min(2, nk - 1)];
                float* d = dst + (nint)r0 * K + k0;
                // vecs is even: every image's plane is a multiple of 16 pixels (Supported).
                WeightKernel4x3(vecs, xoff, g0, g1, g2, g3, x0, x1, x2, d, K, mr, nk);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightKernel4x3(int vecs, int* xoff, float* g0, float* g1, float* g2, float* g3,
        float* x0p, float* x1p, float* x2p, float* dst, nint ldd, int mr, int nk)
    {
        Vector256<float> a00 = default, a01 = default, a02 = default, a10 = default, a11 = default, a12 = default;
        Vector256<float> a20 = default, a21 = default, a22 = default, a30 = default, a31 = default, a32 = default;
        for (int v = 0; v < vecs; v++)
        {
            nint xo = xoff[v], go = (nint)v * 8;
            Vector256<float> x0 = Avx.LoadVector256(x0p + xo);
            Vector256<float> x1 = Avx.LoadVector256(x1p + xo);
            Vector256<float> x2 = Avx.LoadVector256(x2p + xo);
            Vector256<float> gv = Avx.LoadVector256(g0 + go);
            a00 = Fma.MultiplyAdd(gv, x0, a00); a01 = Fma.MultiplyAdd(gv, x1, a01); a02 = Fma.MultiplyAdd(gv, x2, a02);
            gv = Avx.LoadVector256(g1 + go);
            a10 = Fma.MultiplyAdd(gv, x0, a10); a11 = Fma.MultiplyAdd(gv, x1, a11); a12 = Fma.MultiplyAdd(gv, x2, a12);
            gv = Avx.LoadVector256(g2 + go);
            a20 = Fma.MultiplyAdd(gv, x0, a20); a21 = Fma.MultiplyAdd(gv, x1, a21); a22 = Fma.MultiplyAdd(gv, x2, a22);
            gv = Avx.LoadVector256(g3 + go);
            a30 = Fma.MultiplyAdd(gv, x0, a30); a31 = Fma.MultiplyAdd(gv, x1, a31); a32 = Fma.MultiplyAdd(gv, x2, a32);
        }
        AddRow(dst, a00, a01, a02, nk);
        if (mr > 1) AddRow(dst + ldd, a10, a11, a12, nk);
        if (mr > 2) AddRow(dst + 2 * ldd, a20, a21, a22, nk);
        if (mr > 3) AddRow(dst + 3 * ldd, a30, a31, a32, nk);
    }

    /// <summary>
    /// d[t] += Σ lanes of s_t for t &lt; nk: the three sums come out of one horizontal-add tree into one xmm and are
    /// added with a masked load/store (lane 3 never touched), instead of three full reductions and scalar adds
    /// (which cost ~15% of the weight gradient with the AVX-512 tile).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddRow(float* d, Vector256<float> s0, Vector256<float> s1, Vector256<float> s2, int nk)
    {
        // [s0 01, s0 23, s1 01, s1 23 | s0 45, s0 67, s1 45, s1 67] and [s2 01, s2 23, s2 01, s2 23 | s2 45, …]
        Vector256<float> h = Avx.HorizontalAdd(Avx.HorizontalAdd(s0, s1), Avx.HorizontalAdd(s2, s2));
        Vector128<float> sums = h.GetLower() + h.GetUpper(); // [Σs0, Σs1, Σs2, Σs2]
        if (nk == 3)
        {
            Vector128<float> mask = Vector128.Create(-1, -1, -1, 0).AsSingle();
            Avx.MaskStore(d, mask, Avx.MaskLoad(d, mask) + sums);
            return;
        }
        d[0] += sums.ToScalar();
        if (nk > 1) d[1] += sums.GetElement(1);
    }
}
