using System.CommandLine;
using System.Globalization;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// <c>sharpprune sensitivity</c>: prune each Conv2d/Linear layer alone to each sparsity, evaluate, and print the
/// accuracy table (Han et al. 2015, fig. 6; Distiller's sensitivity analysis); <c>--max-drop</c> turns the curves
/// into per-layer rates for <c>prune --rates</c>; <c>--out</c> writes sensitivity.csv and sensitivity.json.
/// </summary>
internal static class SensitivityCommand
{
    public static Command Create(CliContext ctx)
    {
        var load = CliOptions.String("--load", "Checkpoint to analyse (dense or pruned)", required: true);
        var data = CliOptions.String("--data", "Dataset [default: the one the checkpoint was trained on]");
        var dataDir = CliOptions.String("--data-dir", "Folder with the dataset files [default: the one the checkpoint was trained from]");
        var sparsities = CliOptions.String("--sparsities", "Sparsities to try per layer: start:stop:step (stop included) or a list", "0.1:0.95:0.05");
        var layers = CliOptions.String("--layers", "Regular expression a layer's full name must match [default: all Conv2d and Linear layers]");
        var maxDrop = CliOptions.OptionalDouble("--max-drop", "Accepted accuracy drop in percentage points: print per-layer rates that stay within it", 0, 100);
        var output = CliOptions.String("--out", "Folder for sensitivity.csv and sensitivity.json");
        var batch = CliOptions.Int("--batch", "Mini-batch size for evaluation", 256, 1, 1 << 20);
        var model = CliOptions.String("--model", "Architecture, for checkpoints that do not record it");
        var limitTest = CliOptions.OptionalInt("--limit-test", "Use only the first N test images", 1, hidden: true);
        sparsities.Validators.Add(r =>
        {
            try { SensitivityAnalysis.ParseSparsities(r.GetValueOrDefault<string>() ?? ""); }
            catch (ArgumentException e) { r.AddError("--sparsities: " + e.Message); }
        });
        var cmd = new Command("sensitivity", "Prune each layer alone at several sparsities and evaluate: which layers can lose most")
            { load, data, dataDir, sparsities, layers, maxDrop, output, batch, model, limitTest };
        SharpPruneCli.SetHandler(cmd, ctx, parse =>
        {
            string path = parse.GetValue(load)!;
            var loaded = ModelLoader.Load(path, parse.GetValue(model));
            string dataset = DataSets.Info(parse.GetValue(data) ?? loaded.Dataset
                ?? throw new CliUsageException($"{path} does not record its dataset; pass --data")).Name;
            var (_, test) = DataSets.Load(DataSets.ForCheckpoint(ctx, loaded, dataset, parse.GetValue(dataDir), path), loaded.InputShape, loaded.ModelName);
            if (test.NumClasses != loaded.NumClasses)
                throw new CliUsageException($"{path} holds a {loaded.NumClasses}-class model but {dataset} has {test.NumClasses} classes");
            var loader = new DataLoader(DatasetLimit.Take(test, parse.GetValue(limitTest)), parse.GetValue(batch), shuffle: false, Transforms.Test(dataset), seed: 0);

            var selected = PruneCommand.SelectLayers(loaded.Model, parse.GetValue(layers));
            var levels = SensitivityAnalysis.ParseSparsities(parse.GetValue(sparsities)!);
            ctx.Out.WriteLine($"sensitivity of {selected.Count} layers of {loaded.ModelName} at {levels.Count} sparsities on {loader.Dataset.Name} ({loader.Dataset.Count} images)");
            var inv = CultureInfo.InvariantCulture;
            var result = SensitivityAnalysis.Run(selected, levels, () =>
            {
                var r = Evaluator.Evaluate(loaded.Model, loader);
                return (r.Accuracy, r.Loss);
            }, (layer, p) => { if (ctx.ErrIsTerminal) ctx.Err.Write(string.Format(inv, "\r{0} at {1:0.##}%: {2:F2}%      ", layer, p.Sparsity * 100, p.Accuracy)); });
            if (ctx.ErrIsTerminal) ctx.Err.Write("\r" + new string(' ', 60) + "\r");

            ctx.Out.Write(result.FormatTable());
            double? drop = parse.GetValue(maxDrop);
            if (drop is double d)
                ctx.Out.WriteLine(string.Format(inv, "per-layer rates within {0:G4} points of the baseline (each layer judged alone): --rates '{1}'", d, result.RatesFor(d)));
            if (parse.GetValue(output) is { } dir)
            {
                Directory.CreateDirectory(dir);
                AtomicFile.WriteAllText(Path.Combine(dir, "sensitivity.csv"), result.ToCsv());
                AtomicFile.WriteAllText(Path.Combine(dir, "sensitivity.json"), result.ToJson(drop) + "\n");
                Plots.Charts.SensitivityCurves(result, $"Sensitivity of {loaded.ModelName} ({Path.GetFileName(path)})").Save(Path.Combine(dir, "sensitivity"));
                ctx.Out.WriteLine($"wrote {Path.Combine(dir, "sensitivity")}.csv, .json, .png and .svg");
            }
            return 0;
        });
        return cmd;
    }
}
