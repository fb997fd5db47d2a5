using System.Runtime.InteropServices;
using SharpPrune.Onnx.Proto;

namespace SharpPrune.Onnx;

/// <summary>Thrown for an ONNX file SharpPrune cannot read: malformed, hostile, or using ops outside the supported set.</summary>
public sealed class OnnxFormatException : IOException
{
    public OnnxFormatException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>ONNX TensorProto → float32 tensor, every size checked against the bytes actually present.</summary>
internal static class OnnxTensors
{
    public static Tensor ToTensor(TensorProto t, string source)
    {
        string what = $"{source}: tensor '{t.Name}'";
        if (t.DataLocation != 0 || t.ExternalData.Count > 0)
            throw new OnnxFormatException($"{what} keeps its data in an external file; SharpPrune reads self-contained .onnx files only");
        if (t.Dims.Count > 8) throw new OnnxFormatException($"{what} has rank {t.Dims.Count}");
        long numel = 1;
        foreach (long d in t.Dims)
        {
            if (d < 0 || d > int.MaxValue) throw new OnnxFormatException($"{what} has dimension {d}");
            numel *= d;
            if (numel > Array.MaxLength) throw new OnnxFormatException($"{what} has more than {Array.MaxLength} elements");
        }
        var shape = t.Dims.Select(d => (int)d).ToArray();
        var type = (TensorProto.Types.DataType)t.DataType;
        int size = type switch
        {
            TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Int32 => 4,
            TensorProto.Types.DataType.Int64 or TensorProto.Types.DataType.Double => 8,
            TensorProto.Types.DataType.Float16 or TensorProto.Types.DataType.Bfloat16 => 2,
            _ => throw new OnnxFormatException($"{what} has data type {type}; supported: FLOAT, FLOAT16, BFLOAT16, DOUBLE, INT32, INT64"),
        };
        // Sizes are checked against the bytes present before anything is allocated.
        if (t.HasRawData)
        {
            if (t.RawData.Length != numel * size)
                throw new OnnxFormatException($"{what} of shape ({string.Join(", ", shape)}) {type} needs {numel * size} bytes of raw data; it has {t.RawData.Length}");
            var data = new float[numel];
            var raw = t.RawData.Span;
            switch (type)
            {
                case TensorProto.Types.DataType.Float: MemoryMarshal.Cast<byte, float>(raw).CopyTo(data); break;
                case TensorProto.Types.DataType.Int32: Narrow(MemoryMarshal.Cast<byte, int>(raw), data); break;
                case TensorProto.Types.DataType.Int64: Narrow(MemoryMarshal.Cast<byte, long>(raw), data); break;
                case TensorProto.Types.DataType.Double: Narrow(MemoryMarshal.Cast<byte, double>(raw), data); break;
                case TensorProto.Types.DataType.Float16: Narrow(MemoryMarshal.Cast<byte, Half>(raw), data); break;
                default:
                    var bf = MemoryMarshal.Cast<byte, ushort>(raw);
                    for (int i = 0; i < data.Length; i++) data[i] = BitConverter.UInt32BitsToSingle((uint)bf[i] << 16);
                    break;
            }
            return new Tensor(data, shape);
        }
        // Typed fields: float_data for FLOAT; int32_data for INT32 and the 16-bit floats (as bit patterns); int64_data; double_data.
        int count = type switch
        {
            TensorProto.Types.DataType.Float => t.FloatData.Count,
            TensorProto.Types.DataType.Int64 => t.Int64Data.Count,
            TensorProto.Types.DataType.Double => t.DoubleData.Count,
            _ => t.Int32Data.Count,
        };
        if (count != numel)
            throw new OnnxFormatException($"{what} of shape ({string.Join(", ", shape)}) needs {numel} values; it has {count}");
        var values = new float[numel];
        for (int i = 0; i < numel; i++)
            values[i] = type switch
            {
                TensorProto.Types.DataType.Float => t.FloatData[i],
                TensorProto.Types.DataType.Int64 => t.Int64Data[i],
                TensorProto.Types.DataType.Double => (float)t.DoubleData[i],
                TensorProto.Types.DataType.Int32 => t.Int32Data[i],
                TensorProto.Types.DataType.Float16 => (float)BitConverter.UInt16BitsToHalf((ushort)t.Int32Data[i]),
                _ => BitConverter.UInt32BitsToSingle((uint)t.Int32Data[i] << 16),
            };
        return new Tensor(values, shape);
    }

    /// <summary>Integer values of a shape-like tensor (stored as float32, exact below 2^24).</summary>
    public static long[] Ints(Tensor t) => t.ToArray().Select(v => (long)v).ToArray();

    private static void Narrow<T>(ReadOnlySpan<T> src, Span<float> dst) where T : unmanaged, System.Numerics.INumberBase<T>
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = float.CreateTruncating(src[i]);
    }
}
