using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace SharpPrune.Kernels;

/// <summary>
/// Direct kernels for depthwise convolutions (groups == CIn, any depth multiplier COut/CIn). im2col + GEMM is
/// a poor fit there (GEMM with m = multiplier, k = KH·KW), so each output row is built from KH·KW shifted
/// axpys over the valid column range of the input row; parallel over planes (weight grad: over channels).
/// </summary>
public static unsafe partial class Conv2dKernels
{
    private static bool DepthwiseSupported(in Conv2dGeometry g) => g.Groups == g.CIn && g.Groups > 1;

    private static void ForDepthwisePlanes(int planes, long workPerPlane, Action<int> body)
    {
        if (Parallelism.AvailableThreads > 1 && planes > 1 && planes * workPerPlane >= 1 << 16) Parallelism.For(0, planes, body);
        else for (int p = 0; p < planes; p++) body(p);
    }

    private static void DepthwiseForward(in Conv2dGeometry g, float* input, float* weight, float* bias, float* output)
    {
        var geo = g;
        int oh = g.OutH, ow = g.OutW, mult = g.COut / g.CIn, kk = g.KH * g.KW;
        nint ii = (nint)input, iw = (nint)weight, ib = (nint)bias, io = (nint)output;
        ForDepthwisePlanes(g.N * g.COut, (long)oh * ow * kk, p =>
        {
            int b = p / geo.COut, co = p % geo.COut, ci = co / mult;
            float* x = (float*)ii + ((nint)b * geo.CIn + ci) * geo.H * geo.W;
            float* y = (float*)io + (nint)p * oh * ow;
            float* w = (float*)iw + (nint)co * kk;
            new Span<float>(y, oh * ow).Fill(ib == 0 ? 0f : ((float*)ib)[co]);
            for (int kw = 0; kw < geo.KW; kw++)
            {
                int offW = kw * geo.DilW - geo.PadW;
                SlidingWindow.ValidRange(offW, geo.StrideW, geo.W, ow, out int lo, out int hi);
                if (hi <= lo) continue;
                for (int kh = 0; kh < geo.KH; kh++)
                {
                    float wv = w[kh * geo.KW + kw];
                    for (int i = 0; i < oh; i++)
                    {
                        int ih = i * geo.StrideH - geo.PadH + kh * geo.DilH;
                        if ((uint)ih >= (uint)geo.H) continue;
                        float* src = x + (nint)ih * geo.W + offW;
                        float* dst = y + (nint)i * ow;
                        if (geo.StrideW == 1) Axpy(wv, src + lo, dst + lo, hi - lo);
                        else for (int j = lo; j < hi; j++) dst[j] += wv * src[(nint)j * geo.StrideW];
                    }
                }
            }
        });
    }

    private static void DepthwiseBackwardInput(in Conv2dGeometry g, float* gradOut, float* weight, float* gradIn)
    {
        var geo = g;
        int oh = g.OutH, ow = g.OutW, mult = g.COut / g.CIn, kk = g.KH * g.KW;
        nint igo = (nint)gradOut, iw = (nint)weight, igi = (nint)gradIn;
        ForDepthwisePlanes(g.N * g.CIn, (long)oh * ow * kk * mult, p =>
        {
            int b = p / geo.CIn, ci = p % geo.CIn;
            float* gx = (float*)igi + (nint)p * geo.H * geo.W;
            new Span<float>(gx, geo.H * geo.W).Clear();
            for (int m = 0; m < mult; m++)
            {
                int co = ci * mult + m;
                float* gy = (float*)igo + ((nint)b * geo.COut + co) * oh * ow;
                float* w = (float*)iw + (nint)co * kk;
                for (int kw = 0; kw < geo.KW; kw++)
                {
                    int offW = kw * geo.DilW - geo.PadW;
                    SlidingWindow.ValidRange(offW, geo.StrideW, geo.W, ow, out int lo, out int hi);
                    if (hi <= lo) continue;
                    for (int kh = 0; kh < geo.KH; kh++)
                    {
                        float wv = w[kh * geo.KW + kw];
                        for (int i = 0; i < oh; i++)
                        {
                            int ih = i * geo.StrideH - geo.PadH + kh * geo.DilH;
                            if ((uint)ih >= (uint)geo.H) continue;
                            float* dst = gx + (nint)ih * geo.W + offW;
                            float* src = gy + (nint)i * ow;
                            if (geo.StrideW == 1) Axpy(wv, src + lo, dst + lo, hi - lo);
                            else for (int j = lo; j < hi; j++) dst[(nint)j * geo.StrideW] += wv * src[j];
                        }
                    }
                }
            }
        });
    }

    private static void DepthwiseBackwardWeight(in Conv2dGeometry g, float* input, float* gradOut, float* gradWeight)
    {
        var geo = g;
        int oh = g.OutH, ow = g.OutW, mult = g.COut / g.CIn, kk = g.KH * g.KW;
        nint ii = (nint)input, igo = (nint)gradOut, igw = (nint)gradWeight;
        ForDepthwisePlanes(g.COut, (long)g.N * oh * ow * kk, co =>
        {
            int ci = co / mult;
            for (int kh = 0; kh < geo.KH; kh++)
                for (int kw = 0; kw < geo.KW; kw++)
                {
                    int offW = kw * geo.DilW - geo.PadW;
                    SlidingWindow.ValidRange(offW, geo.StrideW, geo.W, ow, out int lo, out int hi);
                    double acc = 0;
                    if (hi > lo)
                        for (int b = 0; b < geo.N; b++)
                        {
                            float* x = (float*)ii + ((nint)b * geo.CIn + ci) * geo.H * geo.W;
                            float* gy = (float*)igo + ((nint)b * geo.COut + co) * oh * ow;
                            float rowSum = 0f;
                            for (int i = 0; i < oh; i++)
                            {
                                int ih = i * geo.StrideH - geo.PadH + kh * geo.DilH;
                                if ((uint)ih >= (uint)geo.H) continue;
                                float* src = x + (nint)ih * geo.W + offW;
                                float* gr = gy + (nint)i * ow;
                                if (geo.StrideW == 1) rowSum += Dot(src + lo, gr + lo, hi - lo);
                                else for (int j = lo; j < hi; j++) rowSum += src[(nint)j * geo.StrideW] * gr[j];
                            }
                            acc += rowSum;
                        }
                    ((float*)igw)[(nint)co * kk + kh * geo.KW + kw] = (float)acc;
                }
        });
    }

    /// <summary>y[0..n) += a·x[0..n).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Axpy(float a, float* x, float* y, int n)
    {
        int i = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            var va = Vector256.Create(a);
            for (; i + 8 <= n; i += 8) Vector256.Store(Vector256.MultiplyAddEstimate(va, Vector256.Load(x + i), Vector256.Load(y + i)), y + i);
        }
        for (; i < n; i++) y[i] += a * x[i];
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* x, float* y, int n)
    {
        int i = 0;
        float s = 0f;
        if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            var acc = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) acc = Vector256.MultiplyAddEstimate(Vector256.Load(x + i), Vector256.Load(y + i), acc);
            s = Vector256.Sum(acc);
        }
        for (; i < n; i++) s += x[i] * y[i];
        return s;
    }
}
