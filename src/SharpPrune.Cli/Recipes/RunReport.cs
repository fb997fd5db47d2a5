using System.Globalization;
using SharpPrune.Plots;
using SharpPrune.Pruning;
using SharpPrune.Vision.Training;

namespace SharpPrune.Cli.Recipes;

/// <summary>
/// The pictures of a recipe run: <c>plots/</c> (PNG and SVG: accuracy against sparsity over the steps, each
/// training step's curves, the final per-layer sparsity) and <c>report.html</c>, a self-contained page with the
/// step table and the same charts, next to <c>summary.json</c>.
/// </summary>
internal static class RunReport
{
    public static string Write(string outDir, Recipe recipe, IReadOnlyList<JournalEntry> entries)
    {
        var inv = CultureInfo.InvariantCulture;
        string plots = Path.Combine(outDir, "plots");
        var html = new HtmlReport($"SharpPrune run: {recipe.Name}");
        if (recipe.Description is { } d) html.Paragraph(d);
        html.Paragraph($"{recipe.Model} on {recipe.Data}; recipe {recipe.Path} (sha256 {recipe.Sha256[..12]}); {entries.Count} steps, {entries.Sum(e => e.Seconds):F0} s.");
        html.Table(["step", "title", "test accuracy", "weights pruned", "seconds"], entries.Select(e => (IReadOnlyList<string>)
        [
            e.Id, e.Title,
            e.TestAcc is double a ? a.ToString("F2", inv) + "%" : "",
            e.WeightSparsity is double s ? (100 * s).ToString("F2", inv) + "%" : "",
            e.Seconds.ToString("F1", inv),
        ]));

        var measured = entries.Where(e => e.TestAcc is not null).ToList();
        if (measured.Count > 0)
        {
            var chart = Charts.AccuracyVsSparsity(
                [new Series("after each step", measured.Select(e => e.WeightSparsity ?? 0).ToList(), measured.Select(e => e.TestAcc!.Value).ToList())],
                "Test accuracy and sparsity after each step");
            chart.Save(Path.Combine(plots, "accuracy_vs_sparsity"));
            html.Heading("Accuracy and sparsity").Chart(chart, "One point per step that produced a checkpoint, in order.");
        }

        html.Heading("Training");
        foreach (var e in entries)
        {
            string log = Path.Combine(outDir, e.Id, EpochLogFile.FileName);
            if (e.Checkpoint is null || !File.Exists(log)) continue;
            var epochs = EpochLogFile.Read(log);
            if (epochs.Count < 2) continue; // one point is no curve
            var chart = Charts.TrainingCurves(epochs, $"{e.Id}: {e.Title}");
            chart.Save(Path.Combine(plots, $"training_{e.Id}"));
            html.Chart(chart, $"{e.Id}: accuracy (left) and loss (right) per epoch.");
        }

        if (entries.LastOrDefault(e => e.Checkpoint is not null)?.Checkpoint is { } final && File.Exists(final))
        {
            var loaded = ModelLoader.Load(final);
            var report = PruningReport.FromModule(loaded.Model);
            var chart = Charts.SparsityBars(report, "Final model: weights pruned per layer");
            chart.Save(Path.Combine(plots, "final_sparsity"));
            html.Heading("Final model").Chart(chart, final)
                .Table(["tensor", "non-zeros", "total", "pruned", "shape"], report.Rows.Select(r => (IReadOnlyList<string>)
                [
                    r.Name, r.NonZeros.ToString(inv), r.Total.ToString(inv), (100 - r.NonZeroPercent).ToString("F2", inv) + "%", "(" + string.Join(", ", r.Shape) + ")",
                ]))
                .Paragraph(string.Format(inv, "{0:N0} of {1:N0} parameters pruned ({2:F2}%), compression {3:F2}x.", report.Pruned, report.Total, report.PrunedPercent, report.CompressionRate));
        }
        string path = Path.Combine(outDir, "report.html");
        html.Save(path);
        return path;
    }
}
