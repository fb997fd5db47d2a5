using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace SharpPrune.Kernels;

/// <summary>
/// im2col / col2im for one image (C×H×W). The column matrix has C·KH·KW rows (channel-major, then kh, kw)
/// and OH·OW columns; rows are <c>ldCol</c> apart so several images can sit side by side in one matrix.
/// </summary>
public static unsafe partial class Im2Col
{
    public static int OutputSize(int size, int kernel, int stride, int pad, int dilation) =>
        SlidingWindow.OutputSize(size, kernel, stride, pad, dilation);

    /// <summary>Writes the (C·KH·KW)×(OH·OW) column matrix of <paramref name="image"/> into <paramref name="col"/> (row stride ldCol).</summary>
    public static void ToColumns(ReadOnlySpan<float> image, int channels, int height, int width, int kh, int kw,
        int strideH, int strideW, int padH, int padW, int dilH, int dilW, Span<float> col, int ldCol)
    {
        int oh = OutputSize(height, kh, strideH, padH, dilH), ow = OutputSize(width, kw, strideW, padW, dilW);
        if (oh <= 0 || ow <= 0 || channels == 0) return;
        if (ldCol < oh * ow) throw new ArgumentException("ldCol < OH·OW", nameof(ldCol));
        if (image.Length < (long)channels * height * width) throw new ArgumentException("image too small", nameof(image));
        if (col.Length < (long)(channels * kh * kw - 1) * ldCol + oh * ow) throw new ArgumentException("col too small", nameof(col));
        fixed (float* pi = image) fixed (float* pc = col)
            ToColumns(pi, channels, height, width, kh, kw, strideH, strideW, padH, padW, dilH, dilW, oh, ow, pc, ldCol);
    }

    /// <summary>Accumulates (+=) the column matrix back into <paramref name="image"/> (the adjoint of ToColumns).</summary>
    public static void AddFromColumns(ReadOnlySpan<float> col, int ldCol, int channels, int height, int width, int kh, int kw,
        int strideH, int strideW, int padH, int padW, int dilH, int dilW, Span<float> image)
    {
        int oh = OutputSize(height, kh, strideH, padH, dilH), ow = OutputSize(width, kw, strideW, padW, dilW);
        if (oh <= 0 || ow <= 0 || channels == 0) return;
        if (ldCol < oh * ow) throw new ArgumentException("ldCol < OH·OW", nameof(ldCol));
        if (image.Length < (long)channels * height * width) throw new ArgumentException("image too small", nameof(image));
        if (col.Length < (long)(channels * kh * kw - 1) * ldCol + oh * ow) throw new ArgumentException("col too small", nameof(col));
        fixed (float* pi = image) fixed (float* pc = col)
            AddFromColumns(pc, ldCol, channels, height, width, kh, kw, strideH, strideW, padH, padW, dilH, dilW, oh, ow, pi);
    }

    internal static void ToColumns(float* img, int channels, int height, int width, int kh, int kw,
        int strideH, int strideW, int padH, int padW, int dilH, int dilW, int oh, int ow, float* col, nint ldCol)
    {
        nint plane = (nint)height * width;
        if (kh == 1 && kw == 1 && strideH == 1 && strideW == 1 && padH == 0 && padW == 0)
        {
            // 1×1 window: the column matrix is the image itself.
            for (int c = 0; c < channels; c++)
                new ReadOnlySpan<float>(img + c * plane, (int)plane).CopyTo(new Span<float>(col + c * ldCol, (int)plane));
            return;
        }
        for (int c = 0; c < channels; c++)
        {
            float* src = img + c * plane;
            for (int i = 0; i < kh; i++)
            {
                int offH = i * dilH - padH;
                for (int j = 0; j < kw; j++)
                {
                    int offW = j * dilW - padW;
                    SlidingWindow.ValidRange(offW, strideW, width, ow, out int lo, out int hi);
                    float* dstRow = col + ((nint)(c * kh + i) * kw + j) * ldCol;
                    for (int y = 0; y < oh; y++)
                    {
                        float* dst = dstRow + (nint)y * ow;
                        int ih = y * strideH + offH;
                        if ((uint)ih >= (uint)height) { new Span<float>(dst, ow).Clear(); continue; }
                        for (int x = 0; x < lo; x++) dst[x] = 0f;
                        float* s = src + (nint)ih * width + offW;
                        if (strideW == 1)
                        {
                            if (hi > lo) new ReadOnlySpan<float>(s + lo, hi - lo).CopyTo(new Span<float>(dst + lo, hi - lo));
                        }
                        else
                        {
                            for (int x = lo; x < hi; x++) dst[x] = s[(nint)x * strideW];
                        }
                        for (int x = hi; x < ow; x++) dst[x] = 0f;
                    }
                }
            }
        }
    }

    internal static void AddFromColumns(float* col, nint ldCol, int channels, int height, int width, int kh, int kw,
        int strideH, int strideW, int padH, int padW, int dilH, int dilW, int oh, int ow, float* img)
    {
        nint plane = (nint)height * width;
        for (int c = 0; c < channels; c++)
        {
            float* dstImg = img + c * plane;
            for (int i = 0; i < kh; i++)
            {
                int offH = i * dilH - padH;
                for (int j = 0; j < kw; j++)
                {
                    int offW = j * dilW - padW;
                    SlidingWindow.ValidRange(offW, strideW, width, ow, out int lo, out int hi);
                    if (hi <= lo) continue;
                    float* srcRow = col + ((nint)(c * kh + i) * kw + j) * ldCol;
                    for (int y = 0; y < oh; y++)
                    {
                        int ih = y * strideH + offH;
                        if ((uint)ih >= (uint)height) continue;
                        float* s = srcRow + (nint)y * ow;
                        float* d = dstImg + (nint)ih * width + offW;
                        if (strideW == 1)
                        {
                            var dst = new Span<float>(d + lo, hi - lo);
                            TensorPrimitives.Add(dst, new ReadOnlySpan<float>(s + lo, hi - lo), dst);
                        }
                        else
                        {
                            for (int x = lo; x < hi; x++) d[(nint)x * strideW] += s[x];
                        }
                    }
                }
            }
        }
    }
}
