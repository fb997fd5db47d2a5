using SharpPrune.Kernels;

namespace SharpPrune.Tests.Kernels;

[Collection("Kernels")]
public class ElementwiseKernelsTests
{
    // Sizes below and above the parallel threshold, odd lengths (SIMD tails, uneven chunks) and offsets.
    [Theory]
    [InlineData(1, 0)]
    [InlineData(37, 3)]
    [InlineData(16 + 8 + 4 + 3, 1)]
    [InlineData((1 << 16) + 13, 5)]
    [InlineData(300_001, 0)]
    public void ReluForwardBackwardAndAddMatchScalarLoops(int n, int off)
    {
        var g = new Generator((ulong)n);
        float[] Rand() { var a = new float[n + off]; g.FillNormal(a, 0, 1); return a; }
        var x = Rand(); var grad = Rand(); var b = Rand();
        x[off] = 0f; // ReLU'(0) = 0, as PyTorch
        if (n > 3) { x[off + 1] = float.NaN; x[off + 2] = -0f; x[n + off - 1] = float.NaN; } // NaN propagates, max(-0, 0) = +0
        // Every ISA path (the 512-, 256- and 128-bit loops and their scalar tails) on 1 and 2 threads.
        for (var isa = CpuIsa.Portable; isa <= KernelIsa.Hardware; isa++)
            foreach (int threads in new[] { 1, 2 })
            {
                var y = new float[n + off]; var dx = new float[n + off]; var z = new float[n + off];
                Gemm.MaxIsa = isa;
                try
                {
                    KernelTestUtil.WithThreads(threads, () =>
                    {
                        ElementwiseKernels.Relu(x, off, y, off, n);
                        ElementwiseKernels.ReluBackward(y, off, grad, off, dx, off, n);
                        ElementwiseKernels.Add(x, off, b, off, z, off, n);
                    });
                }
                finally { Gemm.MaxIsa = null; }
                for (int i = off; i < n + off; i++)
                {
                    Assert.Equal(BitConverter.SingleToInt32Bits(Math.Max(x[i], 0f)), BitConverter.SingleToInt32Bits(y[i]));
                    Assert.Equal(y[i] > 0 ? grad[i] : 0f, dx[i]);
                    Assert.Equal(x[i] + b[i], z[i]);
                }
                for (int i = 0; i < off; i++) Assert.Equal(0f, y[i]); // nothing written before the offset
            }
    }
}
