using System.CommandLine;
using System.Globalization;
using System.Text.Json.Nodes;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune quantize</c>: Deep Compression's weight sharing on a (pruned) checkpoint's Conv2d/Linear weights.
/// The output keeps <c>X_codebook</c>/<c>X_indices</c>/<c>X_mask</c>; <c>train --load</c> on it fine-tunes the
/// centroids, <c>compress</c> turns it into a .spz file.
/// </summary>
internal static class QuantizeCommand
{
    public const string HistoryKey = "quantization";

    public static Command Create(CliContext ctx)
    {
        var load = CliOptions.String("--load", "Checkpoint to quantize (pruned or dense)", required: true);
        var bits = CliOptions.String("--bits", "Bits per weight index: conv=B,fc=B for all Conv2d/Linear layers, LAYER=B for one (LAYER=0 leaves it alone)", "conv=8,fc=5");
        var init = CliOptions.Choice("--init", "Centroid initialisation: linear over [min, max] (the paper's), density (CDF quantiles) or random", "linear", ["linear", "density", "random"]);
        var seed = CliOptions.Int("--seed", "Seed for --init random", 0, 0);
        var save = CliOptions.String("--save", "Output checkpoint", required: true);
        var model = CliOptions.String("--model", "Architecture, for checkpoints that do not record it");
        var numClasses = CliOptions.OptionalInt("--num-classes", "Number of classes, for checkpoints that do not record it", 1);
        var cmd = new Command("quantize", "Share weights by k-means per layer (Deep Compression); train --load fine-tunes the centroids")
            { load, bits, init, seed, save, model, numClasses };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string path = parse.GetValue(load)!;
            var loaded = ModelLoader.Load(path, parse.GetValue(model), parse.GetValue(numClasses));
            var layers = loaded.Model.NamedModules().Where(m => m.Module is Conv2d or Linear).ToList();
            var plan = ParseBits(parse.GetValue(bits)!, layers.Select(l => l.Name).ToList());
            var initKind = Enum.Parse<CentroidInit>(parse.GetValue(init)!, ignoreCase: true);
            foreach (var (name, m) in layers)
                if (WeightSharing.Find(m, "weight") != null)
                    throw new CliUsageException($"{path}: {name}.weight is already quantized");
            var done = WeightSharing.ApplyToModel(loaded.Model, (name, m) => plan.Bits(name, m), initKind, new Generator((ulong)parse.GetValue(seed)));

            string output = parse.GetValue(save)!;
            var dir = Path.GetDirectoryName(Path.GetFullPath(output));
            if (dir is not null) Directory.CreateDirectory(dir);
            var meta = PruneCommand.DerivedMetadata(loaded);
            meta[HistoryKey] = new JsonObject { ["bits"] = parse.GetValue(bits), ["init"] = parse.GetValue(init), ["source"] = path }.ToJsonString();
            Checkpoint.Save(output, loaded.Model, null, null, meta);
            foreach (var (p, m, hook) in WeightSharing.SharedTensors(loaded.Model))
            {
                int k = m[hook.TensorName + SharedWeight.CodebookSuffix]!.Numel;
                ctx.Out.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0}.{1}: {2} bits, {3} shared values", p, hook.TensorName, plan.Bits(p, m), k));
            }
            ctx.Out.WriteLine($"quantized {done.Count} layers ({parse.GetValue(init)} init); saved {output}");
            return 0;
        });
        return cmd;
    }

    private sealed record BitsPlan(int? Conv, int? Fc, Dictionary<string, int> PerLayer)
    {
        public int? Bits(string name, Module m)
        {
            int? b = PerLayer.TryGetValue(name, out var v) ? v : m is Conv2d ? Conv : Fc;
            return b is null or 0 ? null : b;
        }
    }

    private static BitsPlan ParseBits(string text, IReadOnlyList<string> layers)
    {
        int? conv = null, fc = null;
        var per = new Dictionary<string, int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0 || !int.TryParse(part[(eq + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int b) || b > WeightSharing.MaxBits)
                throw new CliUsageException($"--bits: '{part}' must be NAME=B with B in [0, {WeightSharing.MaxBits}] (NAME: conv, fc or a layer: {string.Join(", ", layers)})");
            string key = part[..eq];
            if (key == "conv") conv = b;
            else if (key == "fc") fc = b;
            else if (layers.Contains(key)) per[key] = b;
            else throw new CliUsageException($"--bits: unknown layer '{key}'; valid: conv, fc, {string.Join(", ", layers)}");
        }
        return new BitsPlan(conv, fc, per);
    }
}
