using System.Runtime.CompilerServices;

namespace SharpPrune.Kernels;

public static unsafe partial class Gemm
{
    /// <summary>
    /// Packed B shared by all threads of one parallel GEMM is at most this many floats (4 MB, like the serial
    /// path's 256×3072 block): a shared block covers all of k, and every row block streams through it, so it
    /// must stay cache-resident (a 32 MB budget made AlexNet's 4096×4096 fc2 re-read B from memory per row block).
    /// Larger k (e.g. a weight gradient summing over a whole batch of pixels) takes the per-thread grid instead.
    /// </summary>
    private const long SharedBMaxFloats = 1L << 20;

    /// <summary>Shared B blocks are at least this wide (and at most NC), so the A packing per unit stays negligible.</summary>
    private const int SharedBMinColumns = 256;

    [ThreadStatic] private static NativeScratch? t_sharedB;
    [ThreadStatic] private static NativeScratch? t_chunkState;

    /// <summary>Whether <see cref="PackedParallel"/> can take the product (its shared B block must fit the budget).</summary>
    private static bool SharedBFits(int k) => (long)k * SharedBMinColumns <= SharedBMaxFloats;

    /// <summary>
    /// Multi-threaded packed GEMM with one packed copy of op(B) shared by all threads and dynamic work claiming.
    /// <para>
    /// C is cut into units of (MC-row block) × (column slab); threads claim units from a shared counter, so a
    /// thread that starts late (pool wake-up, or a core busy with another process) simply takes fewer units and
    /// nobody waits for it. Each unit runs the whole k loop for its C block (so no two threads ever update the
    /// same C elements and no barrier is needed between k blocks): per k block it packs its own A block, then
    /// walks the slab's B chunks. A B chunk (a k block × a few NR panels) is packed by whichever thread needs it
    /// first (claimed with a compare-exchange, published with a release store); a thread that finds a chunk
    /// claimed but not yet ready computes its other chunks first and comes back. So op(B) is packed once per
    /// call, split between the threads, instead of once per thread (the old grid split packed every B column
    /// block and every A row block in each thread that touched it, and left a thread idle whenever the other
    /// was descheduled).
    /// </para>
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackedParallel<TB>(bool transA, int m, int n, int k, float alpha, float* a, nint lda,
        in TB bsrc, float beta, float* c, nint ldc, int threads) where TB : struct, IBPanelSource
    {
        int align = ColumnAlign;
        // Row blocks are whole 12-row tiles on AVX-512, 6-row tiles otherwise.
        int rowAlign = UseFma && KernelIsa.UseAvx512 ? 2 * MR : MR;
        int kc = CeilDiv(k, CeilDiv(k, KC));
        int kBlocks = CeilDiv(k, kc);

        // Enough row blocks for dynamic claiming to balance (about 4 per thread) while each stays >= 24 rows
        // (shorter blocks re-read each B chunk from L2 for too little arithmetic); a multiple of the thread count,
        // with near-equal sizes (Boundary), so that threads running at the same speed finish together.
        int rowBlocks = CeilDiv(m, MC);
        if (rowBlocks < 4 * threads) rowBlocks = Math.Max(rowBlocks, Math.Min(4 * threads, m / 24));
        if (rowBlocks >= threads) rowBlocks = RoundUp(rowBlocks, threads);
        rowBlocks = Math.Max(1, Math.Min(rowBlocks, CeilDiv(m, rowAlign)));
        int mc = RoundUp(CeilDiv(m, rowBlocks), rowAlign) + rowAlign; // the largest block Boundary can give

        // Chunks of 4 tile columns: the unit of B packing and of the macro-kernel's column loop.
        int chunkW = 4 * align;
        int ncBlock = (int)Math.Min(NC, SharedBMaxFloats / k);
        ncBlock = Math.Max(chunkW, ncBlock / chunkW * chunkW);
        int jcBlocks = CeilDiv(n, ncBlock);
        ncBlock = RoundUp(CeilDiv(n, jcBlocks), chunkW); // even column blocks
        int chunksPerBlock = CeilDiv(ncBlock, chunkW);

        float* sharedB = (t_sharedB ??= new NativeScratch()).Get((nint)k * ncBlock);
        int* states = (int*)(t_chunkState ??= new NativeScratch()).Get((nint)kBlocks * chunksPerBlock);
        var work = new ParallelGemmWork
        {
            TransA = transA, M = m, K = k, Kc = kc, KBlocks = kBlocks, Mc = mc, RowBlocks = rowBlocks, RowAlign = rowAlign,
            ChunkW = chunkW, Alpha = alpha, Beta = beta, A = (nint)a, Lda = lda, C = (nint)c, Ldc = ldc,
            SharedB = (nint)sharedB, States = (nint)states, Fma = UseFma,
        };
        TB src = bsrc;
        for (int jc = 0; jc < n; jc += ncBlock)
        {
            int ncCur = Math.Min(ncBlock, n - jc);
            int chunks = CeilDiv(ncCur, chunkW);
            // With a single row block, several column slabs give the threads something to share.
            int slabs = rowBlocks >= 2 * threads ? 1 : Math.Min(chunks, CeilDiv(4 * threads, rowBlocks));
            int slabChunks = CeilDiv(chunks, slabs);
            slabs = CeilDiv(chunks, slabChunks);
            new Span<int>(states, kBlocks * chunksPerBlock).Clear();
            work.Jc = jc; work.NcCur = ncCur; work.Chunks = chunks; work.SlabChunks = slabChunks;
            work.Units = rowBlocks * slabs; work.NextUnit = 0;
            int workers = Math.Min(threads, work.Units);
            Parallelism.For(0, workers, _ => RunUnits(work, src));
        }
    }

    /// <summary>State of one parallel GEMM column block, shared by its workers.</summary>
    private sealed class ParallelGemmWork
    {
        public bool TransA, Fma;
        public int M, K, Kc, KBlocks, Mc, RowBlocks, RowAlign, ChunkW, Jc, NcCur, Chunks, SlabChunks, Units;
        public float Alpha, Beta;
        public nint A, Lda, C, Ldc, SharedB, States;
        public int NextUnit;
    }

    private const int ChunkFree = 0, ChunkPacking = 1, ChunkReady = 2;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunUnits<TB>(ParallelGemmWork w, TB bsrc) where TB : struct, IBPanelSource
    {
        float* bufA = (t_packA ??= new NativeScratch()).Get((nint)w.Mc * w.Kc);
        int* states = (int*)w.States;
        int* deferred = stackalloc int[w.SlabChunks];
        int u;
        while ((u = Interlocked.Increment(ref w.NextUnit) - 1) < w.Units)
        {
            // Units run slab by slab, row blocks inside, so concurrent threads share the slab's B chunks.
            int slab = u / w.RowBlocks, rb = u % w.RowBlocks;
            int ic = Boundary(w.M, rb, w.RowBlocks, w.RowAlign), mcCur = Boundary(w.M, rb + 1, w.RowBlocks, w.RowAlign) - ic;
            if (mcCur <= 0) continue;
            int q0 = slab * w.SlabChunks, q1 = Math.Min(w.Chunks, q0 + w.SlabChunks);
            float* cRow = (float*)w.C + ic * w.Ldc + w.Jc;
            for (int pi = 0; pi < w.KBlocks; pi++)
            {
                int pc = pi * w.Kc, kcCur = Math.Min(w.Kc, w.K - pc);
                float* aSrc = w.TransA ? (float*)w.A + pc * w.Lda + ic : (float*)w.A + ic * w.Lda + pc;
                PackA(w.TransA, aSrc, w.Lda, mcCur, kcCur, bufA);
                float betaEff = pi == 0 ? w.Beta : 1f;
                // This k block's B region: chunk q at +q·ChunkW·kcCur, i.e. the layout of one Pack over all columns.
                float* region = (float*)w.SharedB + (nint)pc * w.Chunks * w.ChunkW;
                int* st = states + pi * w.Chunks;
                int nDeferred = 0;
                for (int q = q0; q < q1; q++)
                {
                    if (Volatile.Read(ref st[q]) != ChunkReady)
                    {
                        if (Interlocked.CompareExchange(ref st[q], ChunkPacking, ChunkFree) != ChunkFree)
                        {
                            deferred[nDeferred++] = q; // another thread is packing it
                            continue;
                        }
                        int cols = Math.Min(w.ChunkW, w.NcCur - q * w.ChunkW);
                        bsrc.Pack(pc, kcCur, w.Jc + q * w.ChunkW, cols, region + (nint)q * w.ChunkW * kcCur);
                        Volatile.Write(ref st[q], ChunkReady);
                    }
                    ChunkProduct(w, mcCur, kcCur, bufA, region, q, betaEff, cRow);
                }
                for (int d = 0; d < nDeferred; d++)
                {
                    int q = deferred[d];
                    var spin = new SpinWait();
                    while (Volatile.Read(ref st[q]) != ChunkReady) spin.SpinOnce(sleep1Threshold: -1); // the packer is mid-chunk: microseconds
                    ChunkProduct(w, mcCur, kcCur, bufA, region, q, betaEff, cRow);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void ChunkProduct(ParallelGemmWork w, int mcCur, int kcCur, float* bufA, float* region, int q,
        float betaEff, float* cRow)
    {
        int cols = Math.Min(w.ChunkW, w.NcCur - q * w.ChunkW);
        MacroKernel(w.Fma, mcCur, cols, kcCur, w.Alpha, bufA, region + (nint)q * w.ChunkW * kcCur, betaEff,
            cRow + q * w.ChunkW, w.Ldc);
    }
}
