using System.Text.Json.Nodes;
using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Onnx;

/// <summary>
/// One layer of an imported graph as data: its module type and the hyper-parameters its tensors do not carry
/// (stride, padding, groups, epsilon, a shortcut's channel map). Widths are not recorded: <see cref="Create"/> takes
/// them from the layer's tensors (the ONNX initializers on import, the state dict when a checkpoint is loaded), so a
/// shrunk or pruned model rebuilds with its own shapes and a file cannot make SharpPrune allocate more than it holds.
/// <see cref="Of"/> and <see cref="Create"/> are inverses; the ONNX importer builds every layer through
/// <see cref="Create"/>, so import and checkpoint loading share one builder.
/// </summary>
public sealed record GraphLayer(string Path, string Type)
{
    /// <summary>The layer types a graph may hold, by <see cref="Type"/> (our module class names).</summary>
    public static readonly IReadOnlyList<string> Types =
        ["Conv2d", "Linear", "BatchNorm2d", "BatchNorm1d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "Flatten", "PadShortcut"];

    /// <summary>Largest stride, padding, dilation, group count or pooling window a description may give.</summary>
    private const int MaxHyper = 1 << 16;

    public (int H, int W) Kernel { get; init; } = (1, 1);
    public (int H, int W) Stride { get; init; } = (1, 1);
    public (int H, int W) Padding { get; init; }
    public (int H, int W) Dilation { get; init; } = (1, 1);
    public int Groups { get; init; } = 1;
    /// <summary>Conv2d, Linear: whether the layer has a bias (recorded, so a state dict missing one is an error, not another model).</summary>
    public bool Bias { get; init; }
    public double Eps { get; init; } = 1e-5;
    /// <summary>PadShortcut: input channels and, per output channel, its input channel or -1 for zeros.</summary>
    public int InChannels { get; init; }
    public IReadOnlyList<int>? Sources { get; init; }

    /// <summary>The description of <paramref name="m"/> as it is now (after a shrink, the shortcut maps it has then).</summary>
    public static GraphLayer Of(string path, Module m) => m switch
    {
        Conv2d c => new(path, "Conv2d") { Stride = c.Stride, Padding = c.Padding, Dilation = c.Dilation, Groups = c.Groups, Bias = c.Bias is not null },
        Linear l => new(path, "Linear") { Bias = l.Bias is not null },
        BatchNorm2d b => new(path, "BatchNorm2d") { Eps = b.Eps },
        BatchNorm1d b => new(path, "BatchNorm1d") { Eps = b.Eps },
        MaxPool2d p => new(path, "MaxPool2d") { Kernel = p.KernelSize, Stride = p.Stride, Padding = p.Padding },
        AvgPool2d p => new(path, "AvgPool2d") { Kernel = p.KernelSize, Stride = p.Stride, Padding = p.Padding },
        AdaptiveAvgPool2d p when p.OutputSize == (1, 1) => new(path, "AdaptiveAvgPool2d"),
        Flatten => new(path, "Flatten"),
        PadShortcut s => new(path, "PadShortcut") { Stride = (s.Stride, s.Stride), InChannels = s.InChannels, Sources = s.OutputSources.ToArray() },
        _ => throw new InvalidOperationException($"layer '{path}' is a {m.TypeName}, which an imported graph cannot record (types: {string.Join(", ", Types)})"),
    };

    /// <summary>
    /// A new module of this description. <paramref name="shapeOf"/> gives the shape of one of its tensors by local name
    /// ("weight", "bias", "running_mean") or null when it has none. The parameters are freshly initialised: the caller
    /// copies the weights in. Throws <see cref="ArgumentException"/> naming what does not fit.
    /// </summary>
    public Module Create(Func<string, int[]?> shapeOf)
    {
        int[] Need(string name, int rank) => shapeOf(name) is { } s
            ? s.Length == rank ? s : throw new ArgumentException($"{Type} '{Path}': {name} has shape ({string.Join(", ", s)}), rank {rank} expected")
            : throw new ArgumentException($"{Type} '{Path}' has no {name}");
        switch (Type)
        {
            case "Conv2d":
                {
                    var w = Need("weight", 4);
                    return new Conv2d(w[1] * Groups, w[0], (w[2], w[3]), Stride, Padding, Dilation, Groups, bias: Bias);
                }
            case "Linear":
                {
                    var w = Need("weight", 2);
                    return new Linear(w[1], w[0], bias: Bias);
                }
            case "BatchNorm2d": return new BatchNorm2d(Need("running_mean", 1)[0], Eps);
            case "BatchNorm1d": return new BatchNorm1d(Need("running_mean", 1)[0], Eps);
            case "MaxPool2d": return new MaxPool2d(Kernel, Stride, Padding);
            case "AvgPool2d": return new AvgPool2d(Kernel, Stride, Padding);
            case "AdaptiveAvgPool2d": return new AdaptiveAvgPool2d(1);
            case "Flatten": return new Flatten();
            case "PadShortcut":
                {
                    var sources = Sources ?? throw new ArgumentException($"PadShortcut '{Path}' has no channel map");
                    return new PadShortcut(InChannels, sources.Count, Stride.H, sources);
                }
            default: throw new ArgumentException($"layer '{Path}' has type '{MessageText.Name(Type)}'; known: {string.Join(", ", Types)}");
        }
    }

    public JsonObject ToJson()
    {
        var o = new JsonObject { ["path"] = Path, ["type"] = Type };
        switch (Type)
        {
            case "Conv2d":
                o["stride"] = Pair(Stride); o["padding"] = Pair(Padding); o["dilation"] = Pair(Dilation); o["groups"] = Groups; o["bias"] = Bias; break;
            case "Linear": o["bias"] = Bias; break;
            case "BatchNorm2d" or "BatchNorm1d": o["eps"] = Eps; break;
            case "MaxPool2d" or "AvgPool2d": o["kernel"] = Pair(Kernel); o["stride"] = Pair(Stride); o["padding"] = Pair(Padding); break;
            case "PadShortcut":
                o["stride"] = Stride.H; o["in"] = InChannels;
                o["sources"] = new JsonArray(Sources!.Select(s => (JsonNode)s).ToArray()); break;
        }
        return o;
    }

    private static JsonArray Pair((int H, int W) p) => new(p.H, p.W);

    /// <summary>Reads <see cref="ToJson"/>'s object; every number is range-checked (<see cref="FormatException"/> names the field).</summary>
    public static GraphLayer FromJson(JsonObject o, int maxSources)
    {
        string path = GraphJson.String(o, "path");
        string type = GraphJson.String(o, "type");
        if (!Types.Contains(type)) throw new FormatException($"layer '{MessageText.Name(path)}' has type '{MessageText.Name(type)}'; known: {string.Join(", ", Types)}");
        string what = $"layer '{MessageText.Name(path)}'";
        var layer = new GraphLayer(path, type);
        switch (type)
        {
            case "Conv2d":
                return layer with
                {
                    Stride = GraphJson.Pair(o, "stride", 1, MaxHyper, what), Padding = GraphJson.Pair(o, "padding", 0, MaxHyper, what),
                    Dilation = GraphJson.Pair(o, "dilation", 1, MaxHyper, what), Groups = GraphJson.Int(o, "groups", 1, MaxHyper, what),
                    Bias = GraphJson.Bool(o, "bias", what),
                };
            case "Linear": return layer with { Bias = GraphJson.Bool(o, "bias", what) };
            case "BatchNorm2d" or "BatchNorm1d":
                {
                    double eps = GraphJson.Double(o, "eps", what);
                    return eps > 0 && eps < 1 ? layer with { Eps = eps } : throw new FormatException($"{what}: eps {eps} is not in (0, 1)");
                }
            case "MaxPool2d" or "AvgPool2d":
                return layer with
                {
                    Kernel = GraphJson.Pair(o, "kernel", 1, MaxHyper, what), Stride = GraphJson.Pair(o, "stride", 1, MaxHyper, what),
                    Padding = GraphJson.Pair(o, "padding", 0, MaxHyper, what),
                };
            case "PadShortcut":
                {
                    int stride = GraphJson.Int(o, "stride", 1, MaxHyper, what);
                    var sources = GraphJson.Ints(o, "sources", maxSources, what);
                    return layer with { Stride = (stride, stride), InChannels = GraphJson.Int(o, "in", 0, maxSources, what), Sources = sources.Select(s => (int)s).ToArray() };
                }
            default: return layer;
        }
    }
}
