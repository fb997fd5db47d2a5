using System.Text.Json;
using System.Text.Json.Nodes;
using SharpPrune.IO;
using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// The channel widths of a model's layers as checkpoint metadata (the VGG repository's <c>cfg</c>, for any
/// model): every Conv2d/Linear/BatchNorm's (in, out) and every <see cref="PadShortcut"/>'s channel map. Applying
/// it to a freshly built zoo model resizes the layers a structured pruning shrank, so the checkpoint's weights fit.
/// </summary>
public static class ModelArchitecture
{
    /// <summary>Metadata key holding <see cref="Describe"/>'s JSON.</summary>
    public const string MetadataKey = CheckpointKeys.Architecture;

    /// <summary>JSON: {"layers": {"features.0": [3, 32], …, "layer2.0.downsample": {"in": 8, "sources": [-1, 0, …]}}}.</summary>
    public static string Describe(Module model)
    {
        var layers = new JsonObject();
        foreach (var (name, m) in model.NamedModules())
        {
            if (ChannelWidths.Of(m) is (int i, int o)) layers[name] = new JsonArray(i, o);
            else if (m is PadShortcut p)
                layers[name] = new JsonObject { ["in"] = p.InChannels, ["sources"] = new JsonArray(p.OutputSources.Select(s => (JsonNode)s).ToArray()) };
        }
        return new JsonObject { ["layers"] = layers }.ToJsonString();
    }

    /// <summary>
    /// Resizes the layers of <paramref name="model"/> (freshly built, dense) whose widths differ from
    /// <paramref name="json"/>; new layers are uninitialised, for a state dict to fill. Throws on a layer the
    /// description names that the model lacks or that is of another kind.
    /// </summary>
    public static void Apply(Module model, string json, string source = "checkpoint")
    {
        JsonObject layers;
        try { layers = JsonNode.Parse(json)?["layers"]?.AsObject() ?? throw new InvalidDataException("no 'layers' object"); }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{source}: metadata '{MetadataKey}' is not valid: {e.Message}", e);
        }
        var modules = model.NamedModules().ToDictionary(m => m.Name, m => m.Module);
        foreach (var (name, node) in layers)
        {
            if (!modules.TryGetValue(name, out var m))
                throw new InvalidDataException($"{source}: the architecture names layer '{name}', which a {model.TypeName} does not have");
            Module? replacement;
            try
            {
                replacement = node switch
                {
                    JsonArray { Count: 2 } w when ChannelWidths.Of(m) is (int i, int o) =>
                        (int)w[0]! == i && (int)w[1]! == o ? null : ChannelWidths.Resize(m, Narrower((int)w[0]!, i, "in"), Narrower((int)w[1]!, o, "out")),
                    JsonObject r when m is PadShortcut p => ShortcutFrom(p, r),
                    _ => throw new InvalidDataException($"layer '{name}' ({m.TypeName}) does not match its description {node?.ToJsonString()}"),
                };
            }
            catch (Exception e) when (e is ArgumentException or FormatException or InvalidOperationException or NotSupportedException)
            {
                throw new InvalidDataException($"{source}: layer '{name}': {e.Message}", e);
            }
            if (replacement is null) continue;
            int dot = name.LastIndexOf('.');
            var parent = dot < 0 ? model : modules[name[..dot]];
            parent.RegisterModule(name[(dot + 1)..], replacement);
        }
    }

    /// <summary>
    /// A shrink only removes channels, so a width above the dense model's is a damaged or hostile description:
    /// refused before any layer is allocated at it (a checkpoint cannot ask for billions of weights).
    /// </summary>
    private static int Narrower(int width, int dense, string side) =>
        width >= 1 && width <= dense ? width
            : throw new ArgumentException($"{side} channels {width} outside 1..{dense} (a shrunk layer is at most as wide as the dense one)");

    private static PadShortcut? ShortcutFrom(PadShortcut p, JsonObject r)
    {
        int inCh = Narrower((int)r["in"]!, p.InChannels, "in");
        var sources = r["sources"]!.AsArray().Select(s => (int)s!).ToArray();
        Narrower(sources.Length, p.OutChannels, "out");
        if (inCh == p.InChannels && sources.SequenceEqual(p.OutputSources)) return null;
        return new PadShortcut(inCh, sources.Length, p.Stride, sources);
    }
}
