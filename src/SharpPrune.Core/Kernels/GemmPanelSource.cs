namespace SharpPrune.Kernels;

/// <summary>
/// Producer of packed op(B) blocks: writes op(B)[pc..pc+kc, jc..jc+nc) as NR-column panels side by side
/// (panel q at dst + q·NR·kc, element (p, j) at +(p − pc)·NR + (j − jc) % NR), zero-filling columns past the
/// matrix edge. jc is always a multiple of NR. Must be safe to call concurrently (read-only state).
/// </summary>
internal unsafe interface IBPanelSource
{
    void Pack(int pc, int kc, int jc, int nc, float* dst);
}

/// <summary>op(B) from a plain row-major matrix.</summary>
internal readonly unsafe struct MatrixBSource(bool transB, float* b, nint ldb) : IBPanelSource
{
    public void Pack(int pc, int kc, int jc, int nc, float* dst) =>
        Gemm.PackB(transB, transB ? b + jc * ldb + pc : b + pc * ldb + jc, ldb, kc, nc, dst);
}
