using System.Numerics;

namespace SharpPrune.Vision.Data;

/// <summary>uint8 pixels to float in [0, 1], computed as p / 255f exactly like torchvision's ToTensor.</summary>
internal static class PixelConvert
{
    public static void ToUnitFloat(ReadOnlySpan<byte> src, Span<float> dst)
    {
        if (dst.Length != src.Length)
            throw new ArgumentException($"destination has {dst.Length} floats but the image has {src.Length} pixels");
        int i = 0;
        if (Vector.IsHardwareAccelerated && src.Length >= Vector<byte>.Count)
        {
            var scale = new Vector<float>(255f);
            int w = Vector<float>.Count;
            for (; i <= src.Length - Vector<byte>.Count; i += Vector<byte>.Count)
            {
                Vector.Widen(new Vector<byte>(src.Slice(i)), out Vector<ushort> lo, out Vector<ushort> hi);
                Vector.Widen(lo, out Vector<uint> a, out Vector<uint> b);
                Vector.Widen(hi, out Vector<uint> c, out Vector<uint> d);
                // Division (not multiplication by 1/255) so the floats match PyTorch bit for bit.
                (Vector.ConvertToSingle(Vector.AsVectorInt32(a)) / scale).CopyTo(dst.Slice(i));
                (Vector.ConvertToSingle(Vector.AsVectorInt32(b)) / scale).CopyTo(dst.Slice(i + w));
                (Vector.ConvertToSingle(Vector.AsVectorInt32(c)) / scale).CopyTo(dst.Slice(i + 2 * w));
                (Vector.ConvertToSingle(Vector.AsVectorInt32(d)) / scale).CopyTo(dst.Slice(i + 3 * w));
            }
        }
        for (; i < src.Length; i++) dst[i] = src[i] / 255f;
    }
}
