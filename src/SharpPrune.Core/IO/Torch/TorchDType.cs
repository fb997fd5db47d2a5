namespace SharpPrune.IO.Torch;

/// <summary>Element types of PyTorch storages that SharpPrune reads (all become float32) and writes (float32).</summary>
public enum TorchDType { Float32, Float16, BFloat16, Float64, Int64, Int32, Int16, Int8, UInt8, Bool }

internal static class TorchDTypes
{
    /// <summary>The dtype of a legacy typed-storage class name (torch.FloatStorage …), null when not one.</summary>
    public static TorchDType? FromStorageName(string name) => name switch
    {
        "FloatStorage" => TorchDType.Float32,
        "HalfStorage" => TorchDType.Float16,
        "BFloat16Storage" => TorchDType.BFloat16,
        "DoubleStorage" => TorchDType.Float64,
        "LongStorage" => TorchDType.Int64,
        "IntStorage" => TorchDType.Int32,
        "ShortStorage" => TorchDType.Int16,
        "CharStorage" => TorchDType.Int8,
        "ByteStorage" => TorchDType.UInt8,
        "BoolStorage" => TorchDType.Bool,
        _ => null,
    };

    /// <summary>The same element type in the safetensors converter (one conversion routine serves both formats).</summary>
    public static SafeTensorsDType AsSafeTensors(TorchDType d) => d switch
    {
        TorchDType.Float32 => SafeTensorsDType.F32,
        TorchDType.Float16 => SafeTensorsDType.F16,
        TorchDType.BFloat16 => SafeTensorsDType.BF16,
        TorchDType.Float64 => SafeTensorsDType.F64,
        TorchDType.Int64 => SafeTensorsDType.I64,
        TorchDType.Int32 => SafeTensorsDType.I32,
        TorchDType.Int16 => SafeTensorsDType.I16,
        TorchDType.Int8 => SafeTensorsDType.I8,
        TorchDType.UInt8 => SafeTensorsDType.U8,
        _ => SafeTensorsDType.BOOL,
    };
}

/// <summary>Thrown for a malformed or refused PyTorch checkpoint; the message names the file and what is wrong.</summary>
public sealed class TorchFormatException : IOException
{
    public TorchFormatException(string message, Exception? inner = null) : base(message, inner) { }
}
