using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace SharpPrune.Kernels;

/// <summary>
/// Element-wise passes that dominate a training step once convolutions are fast (ReLU, residual adds): SIMD,
/// branch-free, and split across threads for tensors large enough to pay for the hand-off.
/// Arrays with offsets rather than spans, because the parallel bodies are closures.
/// The width follows <see cref="KernelIsa"/>, so SP_MAX_ISA and the tests' forced paths reach every loop: a Vector256
/// loop under AVX2, a Vector128 loop on the portable path, and under AVX-512 what measured fastest per pass
/// (TensorPrimitives picks 512 bits by itself, so it is only called where 512-bit code is allowed).
/// </summary>
public static unsafe class ElementwiseKernels
{
    private const int ParallelThreshold = 1 << 16;

    /// <summary>y = max(x, 0).</summary>
    public static void Relu(float[] x, int xOff, float[] y, int yOff, int n)
    {
        Check(x, xOff, n); Check(y, yOff, n);
        Split(n, (s, e) =>
        {
            fixed (float* px = x) fixed (float* py = y) ReluRange(px + xOff + s, py + yOff + s, e - s);
        });
    }

    /// <summary>dx = g where the ReLU output is positive, else 0.</summary>
    public static void ReluBackward(float[] output, int oOff, float[] grad, int gOff, float[] dx, int dOff, int n)
    {
        Check(output, oOff, n); Check(grad, gOff, n); Check(dx, dOff, n);
        Split(n, (s, e) =>
        {
            fixed (float* po = output) fixed (float* pg = grad) fixed (float* pd = dx)
                ReluBackwardRange(po + oOff + s, pg + gOff + s, pd + dOff + s, e - s);
        });
    }

    /// <summary>z = a + b (same length).</summary>
    public static void Add(float[] a, int aOff, float[] b, int bOff, float[] z, int zOff, int n)
    {
        Check(a, aOff, n); Check(b, bOff, n); Check(z, zOff, n);
        Split(n, (s, e) =>
        {
            fixed (float* pa = a) fixed (float* pb = b) fixed (float* pz = z) AddRange(pa + aOff + s, pb + bOff + s, pz + zOff + s, e - s);
        });
    }

    private static void Check(float[] a, int off, int n)
    {
        if ((uint)off > (uint)a.Length || (uint)n > (uint)(a.Length - off)) throw new ArgumentOutOfRangeException(nameof(n));
    }

    // VectorNNN.Max has Math.Max's semantics (NaN propagates, max(-0, 0) = +0), as the scalar tail and the
    // TensorPrimitives.Max this replaced.
    internal static void ReluRange(float* x, float* y, int n)
    {
        if (KernelIsa.UseAvx512)
        {
            // TensorPrimitives' own 512-bit loop: it aligns the stores and streams big outputs past the cache, and
            // was 15-30 % faster than a plain Vector512 or Vector256 loop on 4M floats (Zen 5, single thread).
            TensorPrimitives.Max(new ReadOnlySpan<float>(x, n), 0f, new Span<float>(y, n));
            return;
        }
        int i = 0;
        if (KernelIsa.UseAvx2)
            for (; i + 8 <= n; i += 8) Vector256.Max(Vector256.Load(x + i), Vector256<float>.Zero).Store(y + i);
        else
            for (; i + 4 <= n; i += 4) Vector128.Max(Vector128.Load(x + i), Vector128<float>.Zero).Store(y + i);
        for (; i < n; i++) y[i] = Math.Max(x[i], 0f);
    }

    internal static void ReluBackwardRange(float* o, float* g, float* dx, int n)
    {
        // 256 bits also under AVX-512: a Vector512 loop (aligned stores or not) was 20-30 % slower on 1M and 4M
        // floats (Zen 5, single thread); this pass is memory-bound.
        int i = 0;
        if (KernelIsa.UseAvx2)
            for (; i + 8 <= n; i += 8)
                Vector256.ConditionalSelect(Vector256.GreaterThan(Vector256.Load(o + i), Vector256<float>.Zero),
                    Vector256.Load(g + i), Vector256<float>.Zero).Store(dx + i);
        else
            for (; i + 4 <= n; i += 4)
                Vector128.ConditionalSelect(Vector128.GreaterThan(Vector128.Load(o + i), Vector128<float>.Zero),
                    Vector128.Load(g + i), Vector128<float>.Zero).Store(dx + i);
        for (; i < n; i++) dx[i] = o[i] > 0f ? g[i] : 0f;
    }

    internal static void AddRange(float* a, float* b, float* z, int n)
    {
        if (KernelIsa.UseAvx512)
        {
            TensorPrimitives.Add(new ReadOnlySpan<float>(a, n), new ReadOnlySpan<float>(b, n), new Span<float>(z, n)); // as in ReluRange
            return;
        }
        int i = 0;
        if (KernelIsa.UseAvx2)
            for (; i + 8 <= n; i += 8) (Vector256.Load(a + i) + Vector256.Load(b + i)).Store(z + i);
        else
            for (; i + 4 <= n; i += 4) (Vector128.Load(a + i) + Vector128.Load(b + i)).Store(z + i);
        for (; i < n; i++) z[i] = a[i] + b[i];
    }

    private static void Split(int n, Action<int, int> body)
    {
        int parts = n >= ParallelThreshold ? Parallelism.AvailableThreads : 1;
        if (parts <= 1) { body(0, n); return; }
        // Chunk boundaries on 64-float multiples keep every part's SIMD loop aligned with the others'.
        Parallelism.ForRanges((n + 63) / 64, parts, (_, s, e) => body(s * 64, Math.Min(e * 64, n)));
    }
}
