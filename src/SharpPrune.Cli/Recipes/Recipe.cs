using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace SharpPrune.Cli.Recipes;

/// <summary>One entry of a recipe's <c>steps:</c> list: its kind and its options, with where it was written.</summary>
internal sealed record RecipeStep(int Index, string Kind, IReadOnlyDictionary<string, YamlNode> Options, int Line)
{
    public string Where => $"step {Index} ({Kind}, line {Line})";

    public bool Has(string key) => Options.ContainsKey(key);

    public string? Text(string key) => Options.TryGetValue(key, out var n) ? Recipe.ToOptionText(n, $"{Where}: {key}") : null;

    public string RequiredText(string key) => Text(key) ?? throw new CliUsageException($"recipe {Where} needs '{key}'");

    public double? Number(string key, double min, double max)
    {
        if (Text(key) is not { } s) return null;
        if (!double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v >= min && v <= max))
            throw new CliUsageException($"recipe {Where}: {key} must be a number in [{min.ToString(CultureInfo.InvariantCulture)}, {max.ToString(CultureInfo.InvariantCulture)}], got '{s}'");
        return v;
    }

    public int? Int(string key, int min)
    {
        if (Text(key) is not { } s) return null;
        if (!int.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) || v < min)
            throw new CliUsageException($"recipe {Where}: {key} must be a whole number >= {min}, got '{s}'");
        return v;
    }

    /// <summary>A nested mapping option (e.g. an iterate step's <c>finetune:</c>), empty when absent.</summary>
    public IReadOnlyDictionary<string, YamlNode> Mapping(string key)
    {
        if (!Options.TryGetValue(key, out var n)) return new Dictionary<string, YamlNode>();
        return n is YamlMappingNode m ? Recipe.ToDictionary(m, $"{Where}: {key}")
            : throw new CliUsageException($"recipe {Where}: {key} must be a mapping of options (e.g. {{epochs: 2, lr: 0.01}}), got '{Recipe.ToOptionText(n, key)}'");
    }

    /// <summary>Fails on options other than <paramref name="known"/> (for the composite kinds, whose options are their own).</summary>
    public void OnlyKeys(params string[] known)
    {
        foreach (var k in Options.Keys)
            if (!known.Contains(k))
                throw new CliUsageException($"recipe {Where}: unknown option '{k}'; valid: {string.Join(", ", known)}");
    }
}

/// <summary>
/// A recipe file: one YAML document describing a whole run (see recipes/README.md). The top level names the model
/// and data once; <c>train:</c> holds defaults for every training step; <c>steps:</c> lists what to do, in order,
/// each entry a one-key mapping from a step kind (<see cref="RecipeSteps"/>) to its options.
/// </summary>
internal sealed record Recipe(string Name, string Path, string Sha256, string Model, string Data, string? DataDir, string? Seed,
    IReadOnlyDictionary<string, YamlNode> TrainDefaults, IReadOnlyList<RecipeStep> Steps, string? Description)
{
    private static readonly string[] TopKeys = ["name", "description", "model", "data", "data_dir", "seed", "train", "steps"];

    public static Recipe Load(string path)
    {
        if (!File.Exists(path)) throw new CliException($"recipe '{path}' does not exist");
        string text = File.ReadAllText(path);
        var yaml = new YamlStream();
        try { yaml.Load(new StringReader(text)); }
        catch (YamlException e) { throw new CliUsageException($"{path}: not valid YAML at line {e.Start.Line}: {e.Message}"); }
        if (yaml.Documents.Count != 1 || yaml.Documents[0].RootNode is not YamlMappingNode root)
            throw new CliUsageException($"{path}: a recipe is one YAML mapping (name:, model:, data:, steps: ...)");
        var top = ToDictionary(root, path);
        foreach (var k in top.Keys)
            if (!TopKeys.Contains(k)) throw new CliUsageException($"{path}: unknown top-level key '{k}' (line {top[k].Start.Line}); valid: {string.Join(", ", TopKeys)}");
        string Req(string k) => top.TryGetValue(k, out var n) ? ToOptionText(n, k) : throw new CliUsageException($"{path}: the recipe needs '{k}:'");
        string? Opt(string k) => top.TryGetValue(k, out var n) ? ToOptionText(n, k) : null;

        var trainDefaults = top.TryGetValue("train", out var t)
            ? t is YamlMappingNode tm ? ToDictionary(tm, $"{path}: train") : throw new CliUsageException($"{path}: 'train:' must be a mapping of train options")
            : new Dictionary<string, YamlNode>();
        if (!top.TryGetValue("steps", out var s) || s is not YamlSequenceNode seq || seq.Children.Count == 0)
            throw new CliUsageException($"{path}: the recipe needs a non-empty 'steps:' list");
        var steps = new List<RecipeStep>();
        foreach (var item in seq.Children)
        {
            int index = steps.Count + 1;
            if (item is YamlScalarNode bare && bare.Value is { Length: > 0 } kindOnly)
            {
                steps.Add(new RecipeStep(index, kindOnly, new Dictionary<string, YamlNode>(), (int)item.Start.Line));
                continue;
            }
            if (item is not YamlMappingNode m || m.Children.Count != 1)
                throw new CliUsageException($"{path}: step {index} (line {item.Start.Line}) must be one 'kind: {{options}}' entry, e.g. '- prune: {{method: global-l1, amount: 0.8}}'");
            var (key, value) = m.Children.Single();
            string kind = ((YamlScalarNode)key).Value ?? "";
            var options = value switch
            {
                YamlMappingNode vm => ToDictionary(vm, $"{path}: step {index}"),
                YamlScalarNode { Value: null or "" } => new Dictionary<string, YamlNode>(),
                _ => throw new CliUsageException($"{path}: step {index} ({kind}, line {item.Start.Line}) needs a mapping of options"),
            };
            steps.Add(new RecipeStep(index, kind, options, (int)item.Start.Line));
        }
        string name = Opt("name") ?? System.IO.Path.GetFileNameWithoutExtension(path);
        return new Recipe(name, path, Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text))).ToLowerInvariant(),
            Req("model"), Req("data"), Opt("data_dir"), Opt("seed"), trainDefaults, steps, Opt("description"));
    }

    internal static Dictionary<string, YamlNode> ToDictionary(YamlMappingNode m, string where)
    {
        var d = new Dictionary<string, YamlNode>();
        foreach (var (k, v) in m.Children)
        {
            string key = (k as YamlScalarNode)?.Value ?? throw new CliUsageException($"{where}: keys must be plain names (line {k.Start.Line})");
            if (!d.TryAdd(key, v)) throw new CliUsageException($"{where}: '{key}' is given twice (line {k.Start.Line})");
        }
        return d;
    }

    /// <summary>
    /// An option value as the command line takes it: a scalar as written, a mapping as <c>k=v,k=v</c> (per-layer
    /// rates), a list joined by commas.
    /// </summary>
    internal static string ToOptionText(YamlNode node, string where) => node switch
    {
        YamlScalarNode s => s.Value ?? "",
        YamlMappingNode m => string.Join(",", m.Children.Select(kv => $"{ToOptionText(kv.Key, where)}={ToOptionText(kv.Value, where)}")),
        YamlSequenceNode q => string.Join(",", q.Children.Select(c => ToOptionText(c, where))),
        _ => throw new CliUsageException($"{where}: unsupported YAML value at line {node.Start.Line}"),
    };
}
