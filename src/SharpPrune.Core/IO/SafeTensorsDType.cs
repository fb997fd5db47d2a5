using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace SharpPrune.IO;

/// <summary>The element types of the safetensors format that we can read (all are converted to float32).</summary>
public enum SafeTensorsDType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL }

internal static class DTypes
{
    public static bool TryParse(string s, out SafeTensorsDType dtype)
    {
        // Enum.TryParse would also accept numbers and other casings; the format names are exact.
        foreach (var d in Enum.GetValues<SafeTensorsDType>())
            if (d.ToString() == s) { dtype = d; return true; }
        dtype = default;
        return false;
    }

    public static int SizeOf(SafeTensorsDType d) => d switch
    {
        SafeTensorsDType.F64 or SafeTensorsDType.I64 or SafeTensorsDType.U64 => 8,
        SafeTensorsDType.F32 or SafeTensorsDType.I32 or SafeTensorsDType.U32 => 4,
        SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I16 or SafeTensorsDType.U16 => 2,
        _ => 1,
    };

    public static string Names => string.Join(", ", Enum.GetNames<SafeTensorsDType>());

    /// <summary>Converts little-endian elements of <paramref name="d"/> to float32; src holds exactly dst.Length elements.</summary>
    public static void ToSingle(ReadOnlySpan<byte> src, SafeTensorsDType d, Span<float> dst)
    {
        switch (d)
        {
            case SafeTensorsDType.F32: MemoryMarshal.Cast<byte, float>(src).CopyTo(dst); break;
            case SafeTensorsDType.F16: TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(src), dst); break;
            case SafeTensorsDType.F64: Narrow(MemoryMarshal.Cast<byte, double>(src), dst); break;
            case SafeTensorsDType.BF16:
                {
                    var s = MemoryMarshal.Cast<byte, ushort>(src);
                    for (int i = 0; i < dst.Length; i++) dst[i] = BitConverter.UInt32BitsToSingle((uint)s[i] << 16);
                    break;
                }
            case SafeTensorsDType.I64: Narrow(MemoryMarshal.Cast<byte, long>(src), dst); break;
            case SafeTensorsDType.U64: Narrow(MemoryMarshal.Cast<byte, ulong>(src), dst); break;
            case SafeTensorsDType.I32: Narrow(MemoryMarshal.Cast<byte, int>(src), dst); break;
            case SafeTensorsDType.U32: Narrow(MemoryMarshal.Cast<byte, uint>(src), dst); break;
            case SafeTensorsDType.I16: Narrow(MemoryMarshal.Cast<byte, short>(src), dst); break;
            case SafeTensorsDType.U16: Narrow(MemoryMarshal.Cast<byte, ushort>(src), dst); break;
            case SafeTensorsDType.I8: Narrow(MemoryMarshal.Cast<byte, sbyte>(src), dst); break;
            case SafeTensorsDType.U8: Narrow(src, dst); break;
            case SafeTensorsDType.BOOL:
                for (int i = 0; i < dst.Length; i++) dst[i] = src[i] != 0 ? 1f : 0f;
                break;
            default: throw new ArgumentOutOfRangeException(nameof(d), d, "unknown dtype");
        }
    }

    private static void Narrow<T>(ReadOnlySpan<T> src, Span<float> dst) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = float.CreateTruncating(src[i]);
    }
}
