using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Training;
using SharpPrune.Vision.Models;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune prune</c>: prune the weights of a checkpoint's Conv2d/Linear layers with one of
/// torch.nn.utils.prune's methods and save a checkpoint with PyTorch's <c>X_orig</c>/<c>X_mask</c> keys.
/// Pruning an already pruned checkpoint prunes further (the masks combine as in PyTorch).
/// </summary>
internal static class PruneCommand
{
    /// <summary>Metadata key holding the pruning steps applied so far (a JSON array).</summary>
    public const string HistoryKey = "pruning";

    public static Command Create(CliContext ctx)
    {
        var checkpoint = new CheckpointOptions("Checkpoint to prune");
        var method = CliOptions.Choice("--method", PruneMethods.HelpText, "global-l1", PruneMethods.Names.ToArray());
        var amount = CliOptions.String("--amount", "How much: a fraction in [0, 1] (0.9 = 90%) or, without a decimal point, a count per tensor (3)");
        var rates = CliOptions.String("--rates", "A fraction per layer in one call, instead of --amount and --layers: 'conv1=0.16,conv2=0.62,fc2=0.9497'");
        var quality = CliOptions.OptionalDouble("--quality", "For threshold: prune entries below quality x the std of the layer's weights (0.7 takes ~45% of a Gaussian layer)", 0, 100);
        var n = CliOptions.String("--n", "Norm for ln-structured: a number, inf, -inf, fro or nuc (PyTorch's p)", "2");
        var dim = CliOptions.Int("--dim", "Dimension of the channels for structured methods (0 = output channels)", 0, -8, 7);
        var layers = CliOptions.String("--layers", "Regular expression a layer's full name must match, e.g. 'features\\.\\d+|classifier\\.0' [default: all Conv2d and Linear layers]");
        var includeBias = CliOptions.Flag("--include-bias", "Prune the biases too");
        var seed = CliOptions.Int("--seed", "Seed for the random methods", 0, 0);
        var save = CliOptions.String("--save", "Output checkpoint (a folder gets pruned.safetensors)", required: true);
        var cmd = new Command("prune", "Prune a checkpoint's Conv2d/Linear weights and save the result with its masks")
            { checkpoint.Load, method, amount, rates, quality, n, dim, layers, includeBias, seed, save, checkpoint.Model, checkpoint.NumClasses };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string path = checkpoint.Path(parse);
            string methodName = parse.GetValue(method)!.ToLowerInvariant();
            var (how, layerRates, q) = HowMuch(PruneMethods.Get(methodName), parse.GetValue(amount), parse.GetValue(rates), parse.GetValue(quality), parse.GetValue(layers));
            var step = new PruneStep(methodName, how, ParseNorm(parse.GetValue(n)!), parse.GetValue(dim), parse.GetValue(layers), parse.GetValue(includeBias),
                (ulong)parse.GetValue(seed), q, layerRates);
            var loaded = checkpoint.LoadModel(parse);
            var targets = Targets(loaded.Model, step.Rates is null ? step.Layers : RatesPattern(loaded.Model, step.Rates), step.IncludeBias);
            Apply(step, targets);

            string output = OutputPath(parse.GetValue(save)!);
            var meta = DerivedMetadata(loaded);
            meta[HistoryKey] = AppendHistory(meta.GetValueOrDefault(HistoryKey), step, path);
            Checkpoint.Save(output, loaded.Model, null, null, meta);

            var report = PruningReport.FromModule(loaded.Model);
            ctx.Out.Write(report.FormatTable());
            ctx.Out.WriteLine($"pruned {targets.Count} tensors of {targets.Select(t => t.Path).Distinct().Count()} layers with {step.Describe()}; saved {output}");
            return 0;
        });
        return cmd;
    }


    private sealed record Target(string Path, Module Module, string Name);

    /// <summary>
    /// What says how much to prune: --amount, --rates (a fraction per layer) or, for threshold, --quality; exactly
    /// one applies. The amount is a placeholder 0 when it does not.
    /// </summary>
    private static (Amount Amount, LayerRates? Rates, double? Quality) HowMuch(PruneMethods.Spec spec, string? amount, string? rates, double? quality, string? layers)
    {
        if ((spec.Uses & PruneMethods.Uses.Quality) != 0)
        {
            if (amount is not null || rates is not null)
                throw new CliUsageException($"--method {spec.Name} prunes by --quality (a multiple of each layer's standard deviation), not by --amount or --rates");
            return (Amount.Fraction(0), null, quality ?? throw new CliUsageException($"--method {spec.Name} needs --quality, e.g. 0.7"));
        }
        if (quality is not null) throw new CliUsageException($"--quality is for --method threshold; --method {spec.Name} takes --amount or --rates");
        if (rates is null)
            return (ParseAmount(amount ?? throw new CliUsageException("--amount is required (or --rates 'layer=fraction,...' for an amount per layer)")), null, null);
        if (amount is not null) throw new CliUsageException("--rates gives every layer its amount; leave out --amount");
        if (layers is not null) throw new CliUsageException("--rates names the layers to prune; leave out --layers");
        if (spec.Global) throw new CliUsageException($"--rates gives each layer its own amount, which a global method (--method {spec.Name}) cannot; use l1-unstructured");
        try { return (Amount.Fraction(0), LayerRates.Parse(rates), null); }
        catch (ArgumentException e) { throw new CliUsageException("--rates: " + e.Message); }
    }

    /// <summary>The layers --rates names, as a --layers pattern; a name that is no Conv2d/Linear layer is an error naming the valid ones.</summary>
    private static string RatesPattern(Module model, LayerRates rates)
    {
        var prunable = model.NamedModules().Where(m => m.Module is Conv2d or Linear).Select(m => m.Name).ToList();
        foreach (var (layer, _) in rates.Rates)
            if (!prunable.Contains(layer))
                throw new CliUsageException($"--rates names '{layer}', which is not a Conv2d/Linear layer of the model: {string.Join(", ", prunable)}");
        return string.Join("|", rates.Rates.Select(r => Regex.Escape(r.Layer)));
    }

    /// <summary>
    /// PyTorch's n, checked before the checkpoint is read and written canonically ("inf", "-inf", "fro", "nuc" or the
    /// number's round-trip form): float('inf') is valid in PyTorch, so "inf" is accepted exactly as 1e400 (which
    /// overflows to it) is. <see cref="PruneMethods"/> turns it back into the method's argument.
    /// </summary>
    internal static string ParseNorm(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        switch (t)
        {
            case "inf" or "+inf" or "infinity" or "+infinity": return "inf";
            case "-inf" or "-infinity": return "-inf";
            case "fro" or "nuc": return t;
        }
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double p) && !double.IsNaN(p))
            return double.IsInfinity(p) ? (p > 0 ? "inf" : "-inf") : p.ToString("R", CultureInfo.InvariantCulture);
        throw new CliUsageException($"--n must be a number, inf, -inf, fro or nuc, got '{MessageText.Name(text)}'");
    }

    /// <summary>PyTorch's two meanings: "0.9" (or 1e-1) is a fraction, "3" a count.</summary>
    private static Amount ParseAmount(string text)
    {
        var inv = CultureInfo.InvariantCulture;
        bool looksFractional = text.IndexOfAny(['.', 'e', 'E']) >= 0;
        Amount a;
        if (!looksFractional && int.TryParse(text, NumberStyles.AllowLeadingSign, inv, out int count)) a = Amount.Absolute(count);
        else if (double.TryParse(text, NumberStyles.Float, inv, out double f)) a = Amount.Fraction(f);
        else throw new CliUsageException($"--amount must be a fraction in [0, 1] (e.g. 0.9) or a non-negative count (e.g. 3), got '{text}'");
        try { return a.Validate(); }
        catch (ArgumentException) { throw new CliUsageException($"--amount must be a fraction in [0, 1] (e.g. 0.9) or a non-negative count (e.g. 3), got '{text}'"); }
    }

    /// <summary>The Conv2d/Linear layers whose full name matches <paramref name="pattern"/> (all when null), in module order.</summary>
    internal static List<(string Name, Module Module)> SelectLayers(Module model, string? pattern)
    {
        Regex? re = null;
        if (pattern is not null)
        {
            try { re = new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant); }
            catch (ArgumentException e) { throw new CliUsageException($"--layers '{pattern}' is not a valid regular expression: {e.Message}"); }
        }
        var prunable = model.NamedModules().Where(m => m.Module is Conv2d or Linear).ToList();
        var selected = prunable.Where(m => re is null || re.IsMatch(m.Name)).ToList();
        if (selected.Count == 0)
            throw new CliUsageException($"--layers '{pattern}' matches none of the Conv2d/Linear layers: {string.Join(", ", prunable.Select(m => m.Name))}");
        return selected;
    }

    private static List<Target> Targets(Module model, string? pattern, bool includeBias)
    {
        var selected = SelectLayers(model, pattern);
        var targets = new List<Target>();
        foreach (var (name, m) in selected)
        {
            targets.Add(new Target(name, m, "weight"));
            if (includeBias && m.TryGet("bias", out var b) && b is not null) targets.Add(new Target(name, m, "bias"));
        }
        return targets;
    }

    private static void Apply(PruneStep s, List<Target> targets)
    {
        var spec = PruneMethods.Get(s.Method);
        var gen = new Generator(s.Seed);
        if (spec.Global)
        {
            try { Prune.GlobalUnstructured(targets.Select(t => (t.Module, t.Name)), spec.Create(s, "", gen)); }
            catch (ArgumentException e)
            {
                // Same exit code as a local method's bad amount: the value does not fit the selected layers.
                throw new CliUsageException($"cannot prune {targets.Count} tensors with {s.Describe()}: {ErrorMessages.OneLine(e)}");
            }
            return;
        }
        foreach (var t in targets)
        {
            try { Prune.Apply(t.Module, t.Name, spec.Create(s, t.Path, gen)); }
            catch (Exception e) when (e is ArgumentException or IndexOutOfRangeException)
            {
                throw new CliUsageException($"cannot prune {t.Path}.{t.Name} with {s.Describe()}: {ErrorMessages.OneLine(e)}");
            }
        }
    }

    private static string OutputPath(string save)
    {
        string file = Directory.Exists(save) || save.EndsWith('/') || save.EndsWith(Path.DirectorySeparatorChar)
            ? Path.Combine(save, "pruned.safetensors") : save;
        string? dir = Path.GetDirectoryName(Path.GetFullPath(file));
        if (dir is not null) Directory.CreateDirectory(dir);
        return file;
    }

    /// <summary>
    /// Metadata of a checkpoint made from <paramref name="loaded"/> (pruned or shrunk in place): the source's, minus
    /// what only the source's own training state means (optimizer, scheduler, format keys), with the model's
    /// structure as it is now (a zoo model's layer widths, or an imported graph's description), and its model name and class count, which a source without metadata (a PyTorch
    /// file, named with --model) lacks, so the output loads with --load alone.
    /// </summary>
    internal static Dictionary<string, string> DerivedMetadata(LoadedModel loaded)
    {
        var meta = loaded.Checkpoint.Metadata.Where(kv => !CheckpointKeys.IsReserved(kv.Key) && kv.Key is not (CheckpointKeys.Architecture or CheckpointKeys.Graph))
            .ToDictionary(kv => kv.Key, kv => kv.Value);
        var (key, structure) = loaded.StructureMetadata();
        meta[key] = structure;
        meta.TryAdd(CheckpointKeys.Model, loaded.ModelName);
        meta.TryAdd(CheckpointKeys.NumClasses, loaded.NumClasses.ToString(System.Globalization.CultureInfo.InvariantCulture));
        return meta;
    }

    private static string AppendHistory(string? existing, PruneStep s, string source)
    {
        JsonArray history;
        try { history = existing is null ? new JsonArray() : JsonNode.Parse(existing) as JsonArray ?? new JsonArray(); }
        catch (JsonException) { history = new JsonArray(); }
        history.Add(new JsonObject
        {
            ["method"] = s.Method,
            ["amount"] = s.Rates is null && s.Quality is null ? s.Amount.ToString() : null,
            ["n"] = s.Uses(PruneMethods.Uses.Norm) ? s.N : null,
            ["dim"] = s.Uses(PruneMethods.Uses.Dim) ? s.Dim : null,
            ["layers"] = s.Layers,
            ["include_bias"] = s.IncludeBias,
            ["seed"] = s.Uses(PruneMethods.Uses.Seed) ? s.Seed : null,
            ["source"] = source,
        });
        if (s.Quality is double q) history[^1]!["quality"] = q;
        if (s.Rates is not null) history[^1]!["rates"] = s.Rates.ToString();
        return history.ToJsonString();
    }
}

/// <summary>One <c>prune</c> invocation's settings; <see cref="PruneMethods"/> says which of them its method reads.</summary>
internal sealed record PruneStep(string Method, Amount Amount, string N, int Dim, string? Layers, bool IncludeBias, ulong Seed,
    double? Quality = null, LayerRates? Rates = null)
{
    public bool Uses(PruneMethods.Uses option) => (PruneMethods.Get(Method).Uses & option) != 0;

    /// <summary>The amount for a layer: its entry of --rates, else --amount.</summary>
    public Amount AmountFor(string layer) => Rates?.Rates.FirstOrDefault(r => r.Layer == layer) is { Layer: not null } r ? r.Rate : Amount;

    public string Describe() =>
        $"{Method} " + (Quality is double q ? $"quality={q.ToString(CultureInfo.InvariantCulture)}" : Rates is not null ? $"rates={Rates}" : $"amount={Amount}") + (Uses(PruneMethods.Uses.Norm) ? $" n={N}" : "") + (Uses(PruneMethods.Uses.Dim) ? $" dim={Dim}" : "")
        + (Uses(PruneMethods.Uses.Seed) ? $" seed={Seed}" : "");
}
