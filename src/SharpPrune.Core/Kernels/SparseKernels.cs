using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SharpPrune.Kernels;

/// <summary>
/// A sparse matrix in compressed sparse row form (CSR): row r's non-zeros are <c>Values[RowPtr[r]..RowPtr[r+1])</c>
/// at columns <c>ColIdx[...]</c>, columns ascending. Plain data, no autograd.
/// </summary>
public sealed class CsrMatrix
{
    public int Rows { get; }
    public int Cols { get; }
    public int[] RowPtr { get; }
    public int[] ColIdx { get; }
    public float[] Values { get; }

    public int NonZeros => RowPtr[Rows];
    public double Density => Rows == 0 || Cols == 0 ? 0 : (double)NonZeros / ((long)Rows * Cols);

    public CsrMatrix(int rows, int cols, int[] rowPtr, int[] colIdx, float[] values)
    {
        if (rowPtr.Length != rows + 1 || colIdx.Length != values.Length || rowPtr[rows] != values.Length)
            throw new ArgumentException($"CSR arrays do not describe a {rows}x{cols} matrix");
        Rows = rows; Cols = cols; RowPtr = rowPtr; ColIdx = colIdx; Values = values;
    }

    /// <summary>The non-zeros of a row-major <paramref name="rows"/>×<paramref name="cols"/> matrix (exact zeros dropped, -0 included).</summary>
    public static CsrMatrix FromDense(ReadOnlySpan<float> dense, int rows, int cols)
    {
        if (dense.Length != (long)rows * cols) throw new ArgumentException($"{dense.Length} values for a {rows}x{cols} matrix");
        var rowPtr = new int[rows + 1];
        int nnz = 0;
        foreach (var v in dense) if (v != 0f) nnz++;
        var col = new int[nnz]; var val = new float[nnz];
        int k = 0;
        for (int r = 0; r < rows; r++)
        {
            var row = dense.Slice(r * cols, cols);
            for (int c = 0; c < cols; c++) if (row[c] != 0f) { col[k] = c; val[k] = row[c]; k++; }
            rowPtr[r + 1] = k;
        }
        return new CsrMatrix(rows, cols, rowPtr, col, val);
    }
}

/// <summary>
/// Sparse × dense products for pruned inference. Each output row is a sum over that row's non-zeros only, in
/// column order, so results differ from the dense GEMM only by summation order (about 1e-6 relative). Threaded over
/// output rows with <see cref="Parallelism"/>.
/// </summary>
public static class SparseKernels
{
    /// <summary>Columns of B processed per pass: a tile of C's row stays in L1 while the row's non-zeros stream.</summary>
    internal const int ColumnTile = 512;

    /// <summary>
    /// C[r, 0..n) = Σ A[r,k] · B[k, 0..n) (+ bias[r]) for the CSR <paramref name="a"/> and row-major B (row stride
    /// <paramref name="ldb"/>), C row-major with stride <paramref name="ldc"/>. C is overwritten.
    /// </summary>
    public static void Spmm(CsrMatrix a, ReadOnlySpan<float> b, int ldb, int n, Span<float> c, int ldc, ReadOnlySpan<float> bias = default)
    {
        if (n <= 0 || a.Rows == 0) return;
        if (b.Length < (long)(a.Cols - 1) * ldb + n && a.Cols > 0) throw new ArgumentException("B too small for the sparse matrix's columns", nameof(b));
        if (c.Length < (long)(a.Rows - 1) * ldc + n) throw new ArgumentException("C too small", nameof(c));
        if (!bias.IsEmpty && bias.Length < a.Rows) throw new ArgumentException("bias shorter than the rows", nameof(bias));
        unsafe
        {
            fixed (float* pb = b) fixed (float* pc = c) fixed (float* pbias = bias)
            {
                nint bp = (nint)pb, cp = (nint)pc, biasp = bias.IsEmpty ? 0 : (nint)pbias;
                long work = (long)a.NonZeros * n;
                int parts = work < 32_768 ? 1 : Math.Min(Parallelism.AvailableThreads * 4, a.Rows);
                Parallelism.ForRanges(a.Rows, parts, (_, r0, r1) =>
                    SpmmRows(a, (float*)bp, ldb, n, (float*)cp, ldc, (float*)biasp, r0, r1));
            }
        }
    }

    private static unsafe void SpmmRows(CsrMatrix a, float* b, int ldb, int n, float* c, int ldc, float* bias, int r0, int r1)
    {
        fixed (int* rowPtr = a.RowPtr) fixed (int* colIdx = a.ColIdx) fixed (float* vals = a.Values)
        for (int j0 = 0; j0 < n; j0 += ColumnTile)
        {
            int w = Math.Min(ColumnTile, n - j0);
            for (int r = r0; r < r1; r++)
            {
                float* crow = c + (long)r * ldc + j0;
                float init = bias == null ? 0f : bias[r];
                new Span<float>(crow, w).Fill(init);
                for (int p = rowPtr[r], e = rowPtr[r + 1]; p < e; p++)
                    Axpy(vals[p], b + (long)colIdx[p] * ldb + j0, crow, w);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Axpy(float alpha, float* x, float* y, int n)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated && n >= Vector<float>.Count)
        {
            var va = new Vector<float>(alpha);
            int vc = Vector<float>.Count;
            for (; i <= n - 2 * vc; i += 2 * vc)
            {
                var y0 = Unsafe.ReadUnaligned<Vector<float>>(y + i);
                var y1 = Unsafe.ReadUnaligned<Vector<float>>(y + i + vc);
                y0 += va * Unsafe.ReadUnaligned<Vector<float>>(x + i);
                y1 += va * Unsafe.ReadUnaligned<Vector<float>>(x + i + vc);
                Unsafe.WriteUnaligned(y + i, y0);
                Unsafe.WriteUnaligned(y + i + vc, y1);
            }
            for (; i <= n - vc; i += vc)
                Unsafe.WriteUnaligned(y + i, Unsafe.ReadUnaligned<Vector<float>>(y + i) + va * Unsafe.ReadUnaligned<Vector<float>>(x + i));
        }
        for (; i < n; i++) y[i] += alpha * x[i];
    }

    /// <summary>
    /// y = x·Aᵀ (+ bias) for <paramref name="rows"/> input rows x (row-major, <c>A.Cols</c> wide) and the CSR
    /// A (out × in): a Linear layer with a sparse weight. Few rows: one sparse dot product per output (gathers from
    /// x); more rows: xᵀ is formed once and multiplied as <see cref="Spmm"/> so each non-zero scales a contiguous
    /// vector of <paramref name="rows"/> values.
    /// </summary>
    public static void LinearForward(CsrMatrix a, ReadOnlySpan<float> x, int rows, Span<float> y, ReadOnlySpan<float> bias = default)
    {
        int inF = a.Cols, outF = a.Rows;
        if (x.Length < (long)rows * inF || y.Length < (long)rows * outF) throw new ArgumentException("x or y too small for the sparse linear");
        if (rows <= GatherRows)
        {
            unsafe
            {
                fixed (float* px = x) fixed (float* py = y) fixed (float* pbias = bias)
                {
                    nint xp = (nint)px, yp = (nint)py, bp = bias.IsEmpty ? 0 : (nint)pbias;
                    int parts = (long)a.NonZeros * rows < 32_768 ? 1 : Math.Min(Parallelism.AvailableThreads * 4, outF);
                    Parallelism.ForRanges(outF, parts, (_, o0, o1) => GatherDots(a, (float*)xp, rows, (float*)yp, (float*)bp, o0, o1));
                }
            }
            return;
        }
        var xt = new float[(long)inF * rows];
        Transpose(x, rows, inF, xt);
        var yt = new float[(long)outF * rows];
        Spmm(a, xt, rows, rows, yt, rows, bias);
        Transpose(yt, outF, rows, y);
    }

    /// <summary>Up to this many input rows, <see cref="LinearForward"/> gathers; above, it transposes and streams.</summary>
    internal static int GatherRows = 4;

    private static unsafe void GatherDots(CsrMatrix a, float* x, int rows, float* y, float* bias, int o0, int o1)
    {
        int inF = a.Cols, outF = a.Rows;
        fixed (int* rowPtr = a.RowPtr) fixed (int* colIdx = a.ColIdx) fixed (float* vals = a.Values)
            for (int s = 0; s < rows; s++)
            {
                float* xs = x + (long)s * inF;
                float* ys = y + (long)s * outF;
                for (int o = o0; o < o1; o++)
                    ys[o] = SparseDot(vals, colIdx, rowPtr[o], rowPtr[o + 1], xs) + (bias == null ? 0f : bias[o]);
            }
    }

    /// <summary>Σ vals[p] · x[colIdx[p]] over [p, end): AVX2 gathers 8 at a time with two FMA accumulators where available.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe float SparseDot(float* vals, int* colIdx, int p, int end, float* x)
    {
        float sum = 0f;
        if (System.Runtime.Intrinsics.X86.Avx2.IsSupported && System.Runtime.Intrinsics.X86.Fma.IsSupported && end - p >= 16)
        {
            var acc0 = System.Runtime.Intrinsics.Vector256<float>.Zero;
            var acc1 = System.Runtime.Intrinsics.Vector256<float>.Zero;
            for (; p + 16 <= end; p += 16)
            {
                var g0 = System.Runtime.Intrinsics.X86.Avx2.GatherVector256(x, System.Runtime.Intrinsics.X86.Avx.LoadVector256(colIdx + p), 4);
                var g1 = System.Runtime.Intrinsics.X86.Avx2.GatherVector256(x, System.Runtime.Intrinsics.X86.Avx.LoadVector256(colIdx + p + 8), 4);
                acc0 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(System.Runtime.Intrinsics.X86.Avx.LoadVector256(vals + p), g0, acc0);
                acc1 = System.Runtime.Intrinsics.X86.Fma.MultiplyAdd(System.Runtime.Intrinsics.X86.Avx.LoadVector256(vals + p + 8), g1, acc1);
            }
            sum = System.Runtime.Intrinsics.Vector256.Sum(acc0 + acc1);
        }
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        for (; p + 3 < end; p += 4)
        {
            s0 += vals[p] * x[colIdx[p]];
            s1 += vals[p + 1] * x[colIdx[p + 1]];
            s2 += vals[p + 2] * x[colIdx[p + 2]];
            s3 += vals[p + 3] * x[colIdx[p + 3]];
        }
        for (; p < end; p++) s0 += vals[p] * x[colIdx[p]];
        return sum + ((s0 + s1) + (s2 + s3));
    }

    /// <summary>dst (cols × rows) = srcᵀ for a row-major rows × cols src, in 32×32 tiles.</summary>
    internal static void Transpose(ReadOnlySpan<float> src, int rows, int cols, Span<float> dst)
    {
        const int T = 32;
        for (int i0 = 0; i0 < rows; i0 += T)
            for (int j0 = 0; j0 < cols; j0 += T)
            {
                int i1 = Math.Min(rows, i0 + T), j1 = Math.Min(cols, j0 + T);
                for (int i = i0; i < i1; i++)
                    for (int j = j0; j < j1; j++)
                        dst[j * rows + i] = src[i * cols + j];
            }
    }
}
