using SharpPrune.Onnx.Proto;

namespace SharpPrune.Tests.Onnx;

/// <summary>Reads back parts of an exported ONNX file for assertions.</summary>
internal static class OnnxModelInfo
{
    public static ModelProto Parse(byte[] onnx) => ModelProto.Parser.ParseFrom(onnx);

    public static List<string> InitializerNames(byte[] onnx) => Parse(onnx).Graph.Initializer.Select(i => i.Name).ToList();

    public static List<string> OpTypes(byte[] onnx) => Parse(onnx).Graph.Node.Select(n => n.OpType).ToList();

    public static Tensor Initializer(byte[] onnx, string name)
    {
        var t = Parse(onnx).Graph.Initializer.Single(i => i.Name == name);
        var data = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(t.RawData.Span).ToArray();
        return new Tensor(data, t.Dims.Select(d => (int)d).ToArray());
    }
}
