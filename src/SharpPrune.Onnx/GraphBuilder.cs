using System.Runtime.InteropServices;
using Google.Protobuf;
using SharpPrune.Onnx.Proto;

namespace SharpPrune.Onnx;

/// <summary>Appends nodes and initializers to an ONNX graph, keeping value and node names unique.</summary>
internal sealed class GraphBuilder
{
    public GraphProto Graph { get; } = new() { Name = "sharpprune" };
    private readonly HashSet<string> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _initializers = new(StringComparer.Ordinal);
    private readonly HashSet<string> _nodeNames = new(StringComparer.Ordinal);

    /// <summary>A value name not used yet, <paramref name="stem"/> itself when free.</summary>
    public string FreshValue(string stem)
    {
        string name = stem;
        for (int i = 2; !_values.Add(name); i++) name = $"{stem}#{i}";
        return name;
    }

    public void ReserveValue(string name)
    {
        if (!_values.Add(name)) throw new InvalidOperationException($"ONNX value name '{name}' used twice");
    }

    public bool HasInitializer(string name) => _initializers.Contains(name);

    /// <summary>Adds a float32 initializer (once per name: a layer called twice shares its weights).</summary>
    public string Initializer(string name, Tensor t) => Initializer(name, t.Shape, t.Data);

    public string Initializer(string name, IReadOnlyList<int> shape, ReadOnlySpan<float> data)
    {
        if (!_initializers.Add(name)) return name;
        _values.Add(name);
        var tp = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        foreach (int d in shape) tp.Dims.Add(d);
        tp.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(data));
        Graph.Initializer.Add(tp);
        return name;
    }

    public string Int64Initializer(string name, params long[] values)
    {
        if (!_initializers.Add(name)) return name;
        _values.Add(name);
        var tp = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tp.Dims.Add(values.Length);
        tp.RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));
        Graph.Initializer.Add(tp);
        return name;
    }

    /// <summary>Adds a node named after <paramref name="nodeName"/> (made unique) with the given inputs and one output.</summary>
    public void Node(string opType, string nodeName, IEnumerable<string> inputs, string output, params AttributeProto[] attributes)
    {
        string name = nodeName;
        for (int i = 2; !_nodeNames.Add(name); i++) name = $"{nodeName}#{i}";
        var n = new NodeProto { OpType = opType, Name = name };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        n.Attribute.AddRange(attributes);
        Graph.Node.Add(n);
    }

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto String(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>A float32 tensor value description; dimension 0 is the symbolic batch size when <paramref name="batchSymbol"/> is given.</summary>
    public static ValueInfoProto ValueInfo(string name, IReadOnlyList<int> shape, string? batchSymbol)
    {
        var shapeProto = new TensorShapeProto();
        for (int i = 0; i < shape.Count; i++)
            shapeProto.Dim.Add(i == 0 && batchSymbol != null
                ? new TensorShapeProto.Types.Dimension { DimParam = batchSymbol }
                : new TensorShapeProto.Types.Dimension { DimValue = shape[i] });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shapeProto } },
        };
    }
}
