using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using SharpPrune.IO;

namespace SharpPrune.Onnx;

/// <summary>
/// One step of an imported graph: an op of <see cref="GraphOps"/> reading <see cref="Inputs"/> (names of the graph
/// input, a constant or an earlier step's output) and writing <see cref="Output"/>. <see cref="Node"/> is the ONNX
/// node's name, kept for error messages.
/// </summary>
public sealed record GraphStep(string Node, string Op, IReadOnlyList<string> Inputs, string Output)
{
    /// <summary>Op "layer": the dotted path of the module it calls.</summary>
    public string? Layer { get; init; }
    /// <summary>Op "concat": [axis]; "unsqueeze": the axes; "pad": begin and end per axis (ONNX's pads).</summary>
    public IReadOnlyList<long>? Ints { get; init; }
    /// <summary>Op "constant_of_shape": the fill value.</summary>
    public float Value { get; init; }
}

/// <summary>
/// The structure of an imported graph, recorded in a checkpoint's metadata under <see cref="MetadataKey"/> so that a
/// model imported from ONNX, then pruned, shrunk or fine-tuned and saved, is rebuilt exactly by <c>--load</c>. Its
/// JSON (version <see cref="Version"/>):
/// <code>
/// {"format": "sharpprune.graph", "version": 1,
///  "input": {"name": "input", "shape": [3, 32, 32]}, "output": "output",
///  "layers": [{"path": "conv1", "type": "Conv2d", "stride": [1, 1], "padding": [1, 1], "dilation": [1, 1], "groups": 1, "bias": false}, …],
///  "constants": [{"name": "c", "shape": [2], "data": [0, -1]}, …],
///  "steps": [{"node": "/conv1/Conv", "op": "layer", "layer": "conv1", "inputs": ["input"], "output": "x1"},
///            {"node": "/Add", "op": "add", "inputs": ["x1", "x2"], "output": "x3"}, …]}
/// </code>
/// Layers are <see cref="GraphLayer"/>s (widths come from the state dict); steps are <see cref="GraphOps"/>' ops
/// with their attributes ("axis" for concat, "axes" for unsqueeze, "pads" for pad, "value" for constant_of_shape);
/// constants are the small tensors the steps read (shape arithmetic). <see cref="OnnxGraphModule.Describe"/> writes
/// it, <see cref="OnnxGraphModule.FromSpec"/> builds from it, and the ONNX importer builds through the same code.
/// A reader of a newer version refuses it by name rather than guessing.
/// </summary>
public sealed record GraphSpec(string InputName, IReadOnlyList<int> InputShape, string OutputName,
    IReadOnlyList<GraphLayer> Layers, IReadOnlyList<GraphStep> Steps, IReadOnlyDictionary<string, Tensor> Constants)
{
    public const string MetadataKey = CheckpointKeys.Graph;
    public const string Format = "sharpprune.graph";
    public const int Version = 1;

    /// <summary>Limits a description must keep: layers, steps, and all constants' elements together.</summary>
    private const int MaxLayers = 1 << 16, MaxSteps = 1 << 20, MaxConstantElements = 1 << 20;

    public string ToJson()
    {
        var layers = new JsonArray(Layers.Select(l => (JsonNode)l.ToJson()).ToArray());
        var constants = new JsonArray(Constants.Select(kv => (JsonNode)new JsonObject
        {
            ["name"] = kv.Key,
            ["shape"] = new JsonArray(kv.Value.Shape.Select(d => (JsonNode)d).ToArray()),
            ["data"] = new JsonArray(kv.Value.ToArray().Select(v => (JsonNode)v).ToArray()),
        }).ToArray());
        var steps = new JsonArray(Steps.Select(s =>
        {
            var o = new JsonObject { ["node"] = s.Node, ["op"] = s.Op };
            if (s.Layer is not null) o["layer"] = s.Layer;
            string? attribute = GraphOps.IntsAttribute(s.Op);
            if (attribute is not null)
                o[attribute] = s.Op == GraphOps.Concat ? JsonValue.Create(s.Ints![0]) : new JsonArray(s.Ints!.Select(v => (JsonNode)v).ToArray());
            if (s.Op == GraphOps.ConstantOfShape) o["value"] = s.Value;
            o["inputs"] = new JsonArray(s.Inputs.Select(i => (JsonNode)i).ToArray());
            o["output"] = s.Output;
            return (JsonNode)o;
        }).ToArray());
        return new JsonObject
        {
            ["format"] = Format, ["version"] = Version,
            ["input"] = new JsonObject { ["name"] = InputName, ["shape"] = new JsonArray(InputShape.Select(d => (JsonNode)d).ToArray()) },
            ["output"] = OutputName, ["layers"] = layers, ["constants"] = constants, ["steps"] = steps,
        }.ToJsonString();
    }

    /// <summary>Parses <see cref="ToJson"/>'s text; anything malformed, out of range or of another version is an
    /// <see cref="InvalidDataException"/> naming <paramref name="source"/> and the field.</summary>
    public static GraphSpec FromJson(string json, string source)
    {
        try
        {
            var root = JsonNode.Parse(json, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject
                ?? throw new FormatException("not a JSON object");
            if (GraphJson.String(root, "format") != Format) throw new FormatException($"format is not '{Format}'");
            int version = GraphJson.Int(root, "version", 1, int.MaxValue, "the graph");
            if (version != Version) throw new FormatException($"version {version} is not {Version}, the one this SharpPrune reads (a newer SharpPrune wrote it?)");
            var input = GraphJson.Object(root, "input");
            var shape = GraphJson.Ints(input, "shape", 8, "the input").Select(d => d >= 1 && d <= 1 << 20 ? (int)d
                : throw new FormatException($"input dimension {d} is not in [1, {1 << 20}]")).ToArray();
            if (shape.Length == 0) throw new FormatException("the input has no shape");
            GraphOps.CheckSampleSize(shape.Aggregate(1L, (p, d) => p * d), "the input");

            var layers = GraphJson.Array(root, "layers", MaxLayers).Select(n => GraphLayer.FromJson(AsObject(n, "a layer"), GraphOps.MaxComputedElements)).ToList();
            var constants = new Dictionary<string, Tensor>(StringComparer.Ordinal);
            long constantElements = 0;
            foreach (var n in GraphJson.Array(root, "constants", MaxConstantElements))
            {
                var c = AsObject(n, "a constant");
                string name = GraphJson.String(c, "name");
                var dims = GraphJson.Ints(c, "shape", 8, $"constant '{MessageText.Name(name)}'");
                var data = GraphJson.Floats(c, "data", MaxConstantElements, $"constant '{MessageText.Name(name)}'");
                constantElements += data.Length;
                if (constantElements > MaxConstantElements) throw new FormatException($"the constants hold more than {MaxConstantElements} elements");
                if (dims.Any(d => d < 0) || dims.Aggregate(1L, (p, d) => p * Math.Min(d, MaxConstantElements + 1L)) != data.Length)
                    throw new FormatException($"constant '{MessageText.Name(name)}' has shape ({string.Join(", ", dims)}) but {data.Length} values");
                if (!constants.TryAdd(name, Tensor.FromArray(data, dims.Select(d => (int)d).ToArray())))
                    throw new FormatException($"constant '{MessageText.Name(name)}' is defined twice");
            }
            var steps = GraphJson.Array(root, "steps", MaxSteps).Select(n => StepFromJson(AsObject(n, "a step"))).ToList();
            return new GraphSpec(GraphJson.String(input, "name"), shape, GraphJson.String(root, "output"), layers, steps, constants);
        }
        catch (Exception e) when (e is FormatException or JsonException or InvalidOperationException or OverflowException or ArgumentException)
        {
            throw new InvalidDataException($"{source}: metadata '{MetadataKey}' is not a valid graph description: {e.Message}", e);
        }
    }

    private static JsonObject AsObject(JsonNode? n, string what) => n as JsonObject ?? throw new FormatException($"{what} is not a JSON object");

    private static GraphStep StepFromJson(JsonObject o)
    {
        string node = GraphJson.String(o, "node"), op = GraphJson.String(o, "op");
        string what = $"step '{MessageText.Name(node)}'";
        if (!GraphOps.Arity.TryGetValue(op, out var arity))
            throw new FormatException($"{what} has op '{MessageText.Name(op)}'; known: {string.Join(", ", GraphOps.Arity.Keys)}");
        var inputs = GraphJson.Array(o, "inputs", 1 << 16).Select(i => i is JsonValue v && v.TryGetValue<string>(out var s) ? s
            : throw new FormatException($"{what}: an input is not a name")).ToArray();
        if (inputs.Length < arity.Min || inputs.Length > arity.Max)
            throw new FormatException($"{what} ({op}) has {inputs.Length} inputs; {(arity.Min == arity.Max ? arity.Min.ToString(CultureInfo.InvariantCulture) : $"{arity.Min} or more")} expected");
        var step = new GraphStep(node, op, inputs, GraphJson.String(o, "output"));
        if (op == GraphOps.Layer) step = step with { Layer = GraphJson.String(o, "layer") };
        if (GraphOps.IntsAttribute(op) is { } attribute)
            step = step with { Ints = op == GraphOps.Concat ? [GraphJson.Long(o, attribute, what)] : GraphJson.Ints(o, attribute, 16, what) };
        if (op == GraphOps.ConstantOfShape) step = step with { Value = (float)GraphJson.Double(o, "value", what) };
        return step;
    }
}

/// <summary>Typed, range-checked reads of the graph description's JSON; errors are <see cref="FormatException"/>s naming the field.</summary>
internal static class GraphJson
{
    public static JsonNode Field(JsonObject o, string name) => o[name] ?? throw new FormatException($"'{name}' is missing");

    public static JsonObject Object(JsonObject o, string name) => Field(o, name) as JsonObject ?? throw new FormatException($"'{name}' is not an object");

    public static JsonArray Array(JsonObject o, string name, int max)
    {
        var a = Field(o, name) as JsonArray ?? throw new FormatException($"'{name}' is not an array");
        return a.Count <= max ? a : throw new FormatException($"'{name}' has {a.Count} entries, more than {max}");
    }

    public static string String(JsonObject o, string name) =>
        Field(o, name) is JsonValue v && v.TryGetValue<string>(out var s) ? s : throw new FormatException($"'{name}' is not a string");

    public static long Long(JsonObject o, string name, string what) =>
        Field(o, name) is JsonValue v && v.TryGetValue<long>(out var l) ? l : throw new FormatException($"{what}: '{name}' is not an integer");

    public static int Int(JsonObject o, string name, int min, int max, string what)
    {
        long v = Long(o, name, what);
        return v >= min && v <= max ? (int)v : throw new FormatException($"{what}: '{name}' is {v}, not in [{min}, {max}]");
    }

    public static bool Bool(JsonObject o, string name, string what) =>
        Field(o, name) is JsonValue v && v.TryGetValue<bool>(out var b) ? b : throw new FormatException($"{what}: '{name}' is not true or false");

    public static double Double(JsonObject o, string name, string what) =>
        Field(o, name) is JsonValue v && v.TryGetValue<double>(out var d) && double.IsFinite(d) ? d : throw new FormatException($"{what}: '{name}' is not a finite number");

    public static long[] Ints(JsonObject o, string name, int max, string what) =>
        Array(o, name, max).Select(n => n is JsonValue v && v.TryGetValue<long>(out var l) ? l : throw new FormatException($"{what}: '{name}' holds a non-integer")).ToArray();

    public static float[] Floats(JsonObject o, string name, int max, string what) =>
        Array(o, name, max).Select(n => n is JsonValue v && v.TryGetValue<double>(out var d) ? (float)d : throw new FormatException($"{what}: '{name}' holds a non-number")).ToArray();

    public static (int H, int W) Pair(JsonObject o, string name, int min, int max, string what)
    {
        var v = Ints(o, name, 2, what);
        if (v.Length != 2 || v.Any(x => x < min || x > max)) throw new FormatException($"{what}: '{name}' ({string.Join(", ", v)}) is not two values in [{min}, {max}]");
        return ((int)v[0], (int)v[1]);
    }
}
