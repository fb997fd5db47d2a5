using System.Numerics;
using System.Numerics.Tensors;

namespace SharpPrune.Kernels;

/// <summary>
/// Element-wise passes that dominate a training step once convolutions are fast (ReLU, residual adds): SIMD,
/// branch-free, and split across threads for tensors large enough to pay for the hand-off.
/// Arrays with offsets rather than spans, because the parallel bodies are closures.
/// </summary>
public static class ElementwiseKernels
{
    private const int ParallelThreshold = 1 << 16;

    /// <summary>y = max(x, 0).</summary>
    public static void Relu(float[] x, int xOff, float[] y, int yOff, int n) =>
        Split(n, (s, e) => TensorPrimitives.Max(x.AsSpan(xOff + s, e - s), 0f, y.AsSpan(yOff + s, e - s)));

    /// <summary>dx = g where the ReLU output is positive, else 0.</summary>
    public static void ReluBackward(float[] output, int oOff, float[] grad, int gOff, float[] dx, int dOff, int n) =>
        Split(n, (s, e) => ReluBackwardRange(output.AsSpan(oOff + s, e - s), grad.AsSpan(gOff + s, e - s), dx.AsSpan(dOff + s, e - s)));

    /// <summary>z = a + b (same length).</summary>
    public static void Add(float[] a, int aOff, float[] b, int bOff, float[] z, int zOff, int n) =>
        Split(n, (s, e) => TensorPrimitives.Add(a.AsSpan(aOff + s, e - s), b.AsSpan(bOff + s, e - s), z.AsSpan(zOff + s, e - s)));

    private static void ReluBackwardRange(ReadOnlySpan<float> o, ReadOnlySpan<float> g, Span<float> dx)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var ov = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(o);
            var gv = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(g);
            var dv = System.Runtime.InteropServices.MemoryMarshal.Cast<float, Vector<float>>(dx);
            for (int k = 0; k < ov.Length; k++)
                dv[k] = Vector.ConditionalSelect(Vector.GreaterThan(ov[k], Vector<float>.Zero), gv[k], Vector<float>.Zero);
            i = ov.Length * Vector<float>.Count;
        }
        for (; i < dx.Length; i++) dx[i] = o[i] > 0f ? g[i] : 0f;
    }

    private static void Split(int n, Action<int, int> body)
    {
        int parts = n >= ParallelThreshold ? Parallelism.AvailableThreads : 1;
        if (parts <= 1) { body(0, n); return; }
        // Chunk boundaries on 64-float multiples keep every part's SIMD loop aligned with the others'.
        Parallelism.ForRanges((n + 63) / 64, parts, (_, s, e) => body(s * 64, Math.Min(e * 64, n)));
    }
}
