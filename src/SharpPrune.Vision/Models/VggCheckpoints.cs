using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// VGG checkpoints of the channel-pruning repositories rebuilt as our <see cref="Vgg"/>: the widths come from the
/// <c>cfg</c> they save beside a slimmed model's state dict (widths, "M" for a max-pool; the zoo's widths without
/// one), the classifier from the state dict (a hidden layer <c>classifier.1</c>: l1-norm-pruning's and the zoo's;
/// else network-slimming's single Linear), and network-slimming's names (<c>feature.N.*</c>, <c>classifier.*</c>) are
/// renamed to ours. The renaming is derived from the cfg, walking it as that repository's <c>make_layers</c> does
/// (a conv, its BatchNorm and a ReLU per width, one max-pool per "M"), so each repository index is matched to the
/// conv or BatchNorm of the same cfg entry in our model, whatever the widths and pools.
/// </summary>
public static class VggCheckpoints
{
    /// <summary>The metadata key of the cfg (as the repositories' <c>torch.save({'cfg': cfg, ...})</c>).</summary>
    public const string CfgKey = "cfg";

    private const string SlimmingFeatures = "feature.", SlimmingClassifier = "classifier.";

    /// <summary>
    /// True when the checkpoint needs more than the zoo's VGG of its name: a cfg, network-slimming's names or its
    /// single-Linear classifier.
    /// </summary>
    public static bool Applies(CheckpointData checkpoint)
    {
        var keys = checkpoint.Model.Select(kv => kv.Key).ToList();
        return checkpoint.Get(CfgKey) is not null || HasSlimmingNames(keys) || HeadOf(keys) == VggHead.Linear;
    }

    /// <summary>Network-slimming's names: the conv stack is <c>feature</c>.</summary>
    public static bool HasSlimmingNames(IEnumerable<string> keys) => keys.Any(k => k.StartsWith(SlimmingFeatures, StringComparison.Ordinal));

    /// <summary>The classifier a state dict holds: with a hidden layer (<c>classifier.1.*</c>, its BatchNorm1d) or one Linear.</summary>
    public static VggHead HeadOf(IEnumerable<string> keys)
    {
        bool any = false;
        foreach (var k in keys)
        {
            if (!k.StartsWith(SlimmingClassifier, StringComparison.Ordinal)) continue;
            if (k.StartsWith("classifier.1.", StringComparison.Ordinal)) return VggHead.Mlp;
            any = true;
        }
        return any ? VggHead.Linear : VggHead.Mlp;
    }

    /// <summary>A cfg as the repositories save it (JSON: widths and "M") in <see cref="Vgg"/>'s form (0 for "M").</summary>
    public static int[] ParseCfg(string json)
    {
        try
        {
            var cfg = new List<int>();
            foreach (var e in JsonDocument.Parse(json).RootElement.EnumerateArray())
                cfg.Add(e.ValueKind == JsonValueKind.String && e.GetString() == "M" ? 0
                    : e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int v) && v > 0 && v <= 1 << 16 ? v
                    : throw new FormatException($"entry {e.GetRawText()} is neither a width in [1, 65536] nor \"M\""));
            return cfg.Count is > 0 and <= 1024 ? cfg.ToArray() : throw new FormatException($"{cfg.Count} entries");
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            throw new FormatException(e.Message, e);
        }
    }

    /// <summary>
    /// The VGG <paramref name="checkpoint"/> holds (its cfg, or the zoo's VGG-<paramref name="depth"/> widths; the
    /// classifier its state dict has), with network-slimming's names in <see cref="CheckpointData.Model"/> renamed to
    /// ours in place, ready for the state dict to load. Throws <see cref="InvalidDataException"/> naming the file when the
    /// cfg is not one or a name does not fit it.
    /// </summary>
    public static Vgg Create(int depth, int numClasses, CheckpointData checkpoint)
    {
        string source = checkpoint.SourceName;
        int[] cfg;
        if (checkpoint.Get(CfgKey) is { } json)
        {
            try { cfg = ParseCfg(json); }
            catch (FormatException e) { throw new InvalidDataException($"{source}: cfg {MessageText.Name(json)} is not a VGG configuration (channel widths and 'M'): {e.Message}", e); }
        }
        else cfg = Vgg.DefaultConfig(depth).ToArray();
        // The widths come from the file: before allocating, they must not describe more weights than the file holds.
        long convWeights = 0;
        int inChannels = 3;
        foreach (int width in cfg.Where(v => v > 0)) { convWeights += 9L * inChannels * width; inChannels = width; }
        long held = checkpoint.Model.Sum(kv => (long)kv.Value.Numel);
        if (convWeights > held)
            throw new InvalidDataException($"{source}: its cfg describes {convWeights:N0} conv weights but the checkpoint holds {held:N0} values in all");
        Vgg model;
        try { model = new Vgg(cfg, numClasses, new Generator(0), HeadOf(checkpoint.Model.Select(kv => kv.Key))); }
        catch (ArgumentException e) { throw new InvalidDataException($"{source}: {e.Message}", e); }
        if (HasSlimmingNames(checkpoint.Model.Select(kv => kv.Key)))
        {
            var renamed = RenameSlimming(checkpoint.Model, cfg, model, source);
            checkpoint.Model.Clear();
            checkpoint.Model.AddRange(renamed);
        }
        return model;
    }

    /// <summary>
    /// Network-slimming's state dict names as ours: <c>feature.{i}.*</c> → <c>features.{j}.*</c>, where i is the
    /// index that repository's make_layers gives the conv (or BatchNorm) of a cfg entry and j the index of that entry's
    /// conv (or BatchNorm) in <paramref name="model"/>; <c>classifier.*</c> → <c>classifier.0.*</c>. Suffixes (weight,
    /// weight_orig, weight_mask, running_mean…) are kept.
    /// </summary>
    public static List<KeyValuePair<string, Tensor>> RenameSlimming(IEnumerable<KeyValuePair<string, Tensor>> stateDict, IReadOnlyList<int> cfg, Vgg model, string source = "checkpoint")
    {
        var children = model.Features.NamedChildren().ToList();
        var convs = children.Where(c => c.Module is Conv2d).Select(c => c.Name).ToList();
        var norms = children.Where(c => c.Module is BatchNorm2d).Select(c => c.Name).ToList();
        var prefixes = new Dictionary<string, string>(StringComparer.Ordinal);
        int index = 0, entry = 0;
        foreach (int width in cfg)
        {
            if (width == 0) { index += 1; continue; } // MaxPool2d
            prefixes[$"{SlimmingFeatures}{index}."] = $"features.{convs[entry]}.";
            prefixes[$"{SlimmingFeatures}{index + 1}."] = $"features.{norms[entry]}.";
            index += 3; // Conv2d, BatchNorm2d, ReLU
            entry++;
        }
        var result = new List<KeyValuePair<string, Tensor>>();
        foreach (var (key, value) in stateDict)
        {
            string name = key;
            if (key.StartsWith(SlimmingFeatures, StringComparison.Ordinal))
            {
                int dot = key.IndexOf('.', SlimmingFeatures.Length);
                string prefix = dot < 0 ? key : key[..(dot + 1)];
                name = prefixes.TryGetValue(prefix, out var ours) ? ours + key[prefix.Length..]
                    : throw new InvalidDataException($"{source}: '{MessageText.Name(key)}' is not a conv or BatchNorm of the cfg [{string.Join(", ", cfg.Select(v => v == 0 ? "M" : v.ToString(System.Globalization.CultureInfo.InvariantCulture)))}] (its layers sit at feature.{string.Join(", ", prefixes.Keys.Select(p => p[SlimmingFeatures.Length..^1]))})");
            }
            else if (key.StartsWith(SlimmingClassifier, StringComparison.Ordinal) && model.Head == VggHead.Linear
                && key.Length > SlimmingClassifier.Length && !char.IsAsciiDigit(key[SlimmingClassifier.Length]))
                name = "classifier.0." + key[SlimmingClassifier.Length..];
            result.Add(new(name, value));
        }
        return result;
    }
}
