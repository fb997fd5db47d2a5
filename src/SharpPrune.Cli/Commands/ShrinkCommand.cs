using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using SharpPrune.Autograd;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning.Structured;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Models;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune shrink</c>: structured pruning that removes channels for real (the VGG repository's
/// <c>model_prune.py --ar 0.5 --po l1</c> with its transplant into a smaller model), for any zoo model, then a
/// before/after table of parameters, MACs, file size, latency and (with data) accuracy. The saved checkpoint
/// records its layer widths, so eval/train/prune/report load it with no extra flags.
/// </summary>
internal static class ShrinkCommand
{
    /// <summary>Metadata key holding the shrink steps applied so far (a JSON array).</summary>
    public const string HistoryKey = "shrink";

    public static Command Create(CliContext ctx)
    {
        var checkpoint = new CheckpointOptions("Checkpoint to shrink");
        var ratio = CliOptions.Double("--ratio", "Fraction of each group's channels to remove (with --global: of all prunable channels)", 0.5, 0, 1, maxExclusive: true);
        var criterion = CliOptions.Choice("--criterion", "Channel importance: l1/l2 filter norm (Li et al.), bn-scale |gamma| (Liu et al.), taylor (Molchanov et al., needs data), fpgm (He et al.), random",
            "l1", [.. ChannelImportance.Names]);
        var reduction = CliOptions.Choice("--reduction", "How a channel coupled across layers (residual) combines its layers' scores", "sum", "sum", "mean");
        var global = CliOptions.Flag("--global", "Rank channels of all layers together (scores normalised by their group's mean)");
        var maxLayer = CliOptions.Double("--max-layer-ratio", "With --global: the most any one group may lose", 0.9, 0, 1, minExclusive: true, maxExclusive: true);
        var ratios = CliOptions.String("--ratios", "Per-layer ratios, e.g. 'features.0=0.3,features.3=0.6' (a group's producing layer); others use --ratio");
        var layers = CliOptions.String("--layers", "Regular expression: only groups with a layer whose full name matches are pruned");
        var roundTo = CliOptions.Int("--round-to", "Round kept channel counts up to a multiple of N", 1, 1, 4096);
        var compact = CliOptions.Flag("--compact", "Instead of scoring: remove the channels a masked checkpoint (ln-structured, random-structured) has zeroed");
        var data = CliOptions.String("--data", "Dataset for taylor and for the accuracy columns [default: none; the checkpoint's dataset for taylor]");
        var dataDir = CliOptions.String("--data-dir", "Folder with the dataset files [default: the one the checkpoint was trained from]");
        var taylorBatches = CliOptions.Int("--taylor-batches", "Training batches (of --batch) the taylor criterion accumulates over", 8, 1, 1_000_000);
        var batch = CliOptions.Int("--batch", "Mini-batch size for taylor and evaluation", 64, 1, 1 << 20);
        var seed = CliOptions.Int("--seed", "Seed for --criterion random and the taylor batches", 0, 0);
        var noTiming = CliOptions.Flag("--no-timing", "Skip the latency measurement");
        var save = CliOptions.String("--save", "Output checkpoint (a folder gets shrunk.safetensors)", required: true);
        var limitTest = CliOptions.OptionalInt("--limit-test", "Use only the first N test images", 1, hidden: true);
        var cmd = new Command("shrink", "Remove channels for real (structured pruning): a smaller, faster model")
            { checkpoint.Load, checkpoint.Model, checkpoint.NumClasses, ratio, criterion, reduction, global, maxLayer, ratios, layers, roundTo, compact, data, dataDir, taylorBatches, batch, seed, noTiming, save, limitTest };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string path = checkpoint.Path(parse);
            string crit = parse.GetValue(criterion)!.ToLowerInvariant();
            var layerRatios = ParseRatios(parse.GetValue(ratios));
            Regex? layerRegex = null;
            if (parse.GetValue(layers) is string pattern)
            {
                try { layerRegex = new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant); }
                catch (ArgumentException e) { throw new CliUsageException($"--layers: invalid regular expression: {e.Message}"); }
            }
            var loaded = checkpoint.LoadModel(parse);
            var model = loaded.Model;
            int[] inputShape = loaded.InputShape;
            var example = Tensor.Zeros([1, .. inputShape]);

            string? dataset = parse.GetValue(data) ?? (crit == "taylor" ? loaded.Dataset : null);
            if (crit == "taylor" && dataset is null) throw new CliUsageException($"--criterion taylor needs training data: pass --data ({path} does not record its dataset)");
            ImageDataset? train = null; DataLoader? testLoader = null;
            if (dataset is not null)
            {
                dataset = DataSets.Info(dataset).Name;
                var (tr, te) = DataSets.Load(DataSets.ForCheckpoint(ctx, loaded, dataset, parse.GetValue(dataDir), path), inputShape, loaded.ModelName);
                if (te.NumClasses != loaded.NumClasses)
                    throw new CliUsageException($"{path} holds a {loaded.NumClasses}-class model but {dataset} has {te.NumClasses} classes");
                train = tr;
                testLoader = new DataLoader(DatasetLimit.Take(te, parse.GetValue(limitTest)), parse.GetValue(batch), shuffle: false, Transforms.Test(dataset), seed: 0);
            }

            bool timing = !parse.GetValue(noTiming);
            var before = Measure(model, inputShape, testLoader, timing);
            var reductionKind = parse.GetValue(reduction) == "mean" ? GroupReduction.Mean : GroupReduction.Sum;
            ShrinkResult result;
            if (parse.GetValue(compact)) result = Shrink.Compact(model, example);
            else
            {
                IChannelImportance importance = crit == "taylor"
                    ? new TaylorImportance(m => TaylorLosses(m, train!, dataset!, parse.GetValue(batch), parse.GetValue(taylorBatches), (ulong)parse.GetValue(seed))) { Reduction = reductionKind }
                    : ChannelImportance.ByName(crit, reductionKind, new Generator((ulong)parse.GetValue(seed)));
                var options = new ShrinkOptions
                {
                    Ratio = parse.GetValue(ratio), LayerRatios = layerRatios, Global = parse.GetValue(global),
                    MaxLayerRatio = parse.GetValue(maxLayer), Layers = layerRegex, RoundTo = parse.GetValue(roundTo), Importance = importance,
                };
                if (layerRatios is not null) CheckRatioKeys(layerRatios, ChannelGraph.Build(model, example));
                result = Shrink.Apply(model, example, options);
            }

            string output = OutputPath(parse.GetValue(save)!);
            var meta = PruneCommand.DerivedMetadata(loaded);
            meta[HistoryKey] = AppendHistory(meta.GetValueOrDefault(HistoryKey), path, parse.GetValue(compact) ? "compact" : crit, parse.GetValue(ratio), parse.GetValue(global));
            Checkpoint.Save(output, model, null, null, meta);
            var after = Measure(model, inputShape, testLoader, timing);
            after = after with { FileBytes = new FileInfo(output).Length };

            ctx.Out.Write(FormatGroups(result));
            ctx.Out.Write(FormatTable(before, after));
            int removed = result.Groups.Sum(g => g.Removed), total = result.Groups.Where(g => g.Group.IsPrunable).Sum(g => g.Group.Channels.Count);
            ctx.Out.WriteLine($"removed {removed} of {total} prunable channels in {result.Groups.Count(g => g.Removed > 0)} groups; saved {output}");
            return 0;
        });
        return cmd;
    }

    private sealed record Measurement(long Parameters, long Macs, long FileBytes, double? LatencyB1, double? LatencyB64, double? Accuracy);

    private static Measurement Measure(Module model, int[] inputShape, DataLoader? test, bool timing)
    {
        long parameters = model.Parameters().Sum(p => (long)p.Numel);
        long macs = Flops.Count(model, inputShape).TotalMacs;
        long bytes = ModelFileBytes(model);
        double? b1 = timing ? Latency(model, inputShape, 1, 10) : null;
        double? b64 = timing ? Latency(model, inputShape, 64, 3) : null;
        double? acc = test is null ? null : Evaluator.Evaluate(model, test).Accuracy;
        return new Measurement(parameters, macs, bytes, b1, b64, acc);
    }

    // The size of a weights-only checkpoint of the model (the input file may also hold optimizer state).
    private static long ModelFileBytes(Module model)
    {
        string tmp = Path.Combine(Path.GetTempPath(), $"sharpprune-size-{Guid.NewGuid():N}.safetensors");
        try { Checkpoint.Save(tmp, model, null, null); return new FileInfo(tmp).Length; }
        finally { File.Delete(tmp); }
    }

    /// <summary>Median wall time of an eval-mode, no-grad forward pass, in milliseconds (after one warm-up).</summary>
    private static double Latency(Module model, int[] inputShape, int batch, int runs)
    {
        bool training = model.Training;
        model.Eval();
        try
        {
            var x = Tensor.Zeros([batch, .. inputShape]);
            var times = new double[runs];
            using (GradMode.NoGrad())
            {
                for (int i = 0; i < Math.Max(1, 8 / batch); i++) model.Forward(x); // warm-up (JIT tiers, buffer pools)
                for (int i = 0; i < runs; i++)
                {
                    var sw = Stopwatch.StartNew();
                    model.Forward(x);
                    times[i] = sw.Elapsed.TotalMilliseconds;
                }
            }
            Array.Sort(times);
            return times[runs / 2];
        }
        finally { model.Train(training); }
    }

    private static IEnumerable<Tensor> TaylorLosses(Module model, ImageDataset train, string dataset, int batch, int batches, ulong seed)
    {
        var loader = new DataLoader(train, batch, shuffle: true, Transforms.Test(dataset), seed);
        foreach (var b in loader.Epoch(0).Take(batches))
            yield return F.CrossEntropy(model.Forward(b.Images), b.Labels);
    }

    private static IReadOnlyDictionary<string, double>? ParseRatios(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return null;
        var map = new Dictionary<string, double>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0 || !double.TryParse(part[(eq + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out double r))
                throw new CliUsageException($"--ratios: '{part}' is not layer=ratio (e.g. features.0=0.3)");
            if (!(r >= 0 && r < 1)) throw new CliUsageException($"--ratios: ratio for '{part[..eq]}' must be in [0, 1), got {r}");
            map[part[..eq].Trim()] = r;
        }
        return map;
    }

    private static void CheckRatioKeys(IReadOnlyDictionary<string, double> ratios, ChannelGraph graph)
    {
        var known = graph.Groups.Where(g => g.IsPrunable).SelectMany(g => g.NamingLayers).ToHashSet();
        foreach (var key in ratios.Keys)
            if (!known.Contains(key))
                throw new CliUsageException($"--ratios: '{key}' is not a layer of a prunable channel group; groups: {string.Join(", ", graph.Groups.Where(g => g.IsPrunable).Select(g => g.Name))}");
    }

    private static string OutputPath(string save) =>
        Directory.Exists(save) || save.EndsWith('/') || save.EndsWith(Path.DirectorySeparatorChar) ? Path.Combine(save, "shrunk.safetensors") : save;

    private static string AppendHistory(string? existing, string source, string criterion, double ratio, bool global)
    {
        JsonArray history;
        try { history = existing is null ? new JsonArray() : JsonNode.Parse(existing) as JsonArray ?? new JsonArray(); }
        catch (System.Text.Json.JsonException) { history = new JsonArray(); }
        history.Add(new JsonObject { ["source"] = source, ["criterion"] = criterion, ["ratio"] = ratio, ["global"] = global });
        return history.ToJsonString();
    }

    private static string FormatGroups(ShrinkResult result)
    {
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"{"group",-28} {"layers",6} {"channels",9} {"kept",6}");
        foreach (var (g, removed) in result.Groups.Where(g => g.Group.IsPrunable))
            sb.AppendLine($"{g.Name,-28} {g.Layers.Select(l => l.Layer).Distinct().Count(),6} {g.Channels.Count,9} {g.Channels.Count - removed,6}");
        return sb.ToString();
    }

    private static string FormatTable(Measurement b, Measurement a)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new System.Text.StringBuilder();
        sb.AppendLine();
        sb.AppendLine($"{"",-22} {"before",14} {"after",14} {"ratio",8}");
        void Row(string name, double? x, double? y, string fmt, bool higherIsBetter = false)
        {
            if (x is null || y is null) return;
            string ratio = y.Value == 0 ? "-" : (higherIsBetter ? "" : (x.Value / y.Value).ToString("F2", inv) + "x");
            sb.AppendLine($"{name,-22} {x.Value.ToString(fmt, inv),14} {y.Value.ToString(fmt, inv),14} {ratio,8}");
        }
        Row("parameters", b.Parameters, a.Parameters, "N0");
        Row("MACs (per image)", b.Macs, a.Macs, "N0");
        Row("file size (bytes)", b.FileBytes, a.FileBytes, "N0");
        Row("latency batch 1 (ms)", b.LatencyB1, a.LatencyB1, "F2");
        Row("latency batch 64 (ms)", b.LatencyB64, a.LatencyB64, "F1");
        Row("test accuracy (%)", b.Accuracy, a.Accuracy, "F2", higherIsBetter: true);
        return sb.ToString();
    }
}
