using ScottPlot;
using SharpPrune.Pruning;
using SharpPrune.Vision.Training;

namespace SharpPrune.Plots;

/// <summary>A named series of (x, y) points for a line chart.</summary>
public sealed record Series(string Label, IReadOnlyList<double> X, IReadOnlyList<double> Y);

/// <summary>
/// The charts SharpPrune draws (ScottPlot 5): training curves, per-layer sparsity bars, accuracy against
/// sparsity, sensitivity curves. Each returns a <see cref="Chart"/> to save as PNG/SVG or embed in HTML.
/// </summary>
public static class Charts
{
    /// <summary>Test and train accuracy per epoch (left axis) and the two losses (right axis); train curves lighter.</summary>
    public static Chart TrainingCurves(IReadOnlyList<EpochLog> log, string title)
    {
        var plt = NewPlot(title, "epoch", "accuracy (%)");
        double[] epochs = log.Select(e => (double)e.Epoch).ToArray();
        Line(plt, epochs, log.Select(e => e.TestAcc).ToArray(), "test accuracy", Colors.C0);
        Line(plt, epochs, log.Select(e => e.TrainAcc).ToArray(), "train accuracy", Colors.C0.Lighten(0.5));
        var right = plt.Axes.Right;
        right.Label.Text = "loss";
        var testLoss = Line(plt, epochs, log.Select(e => e.TestLoss).ToArray(), "test loss", Colors.C1);
        var trainLoss = Line(plt, epochs, log.Select(e => e.TrainLoss).ToArray(), "train loss", Colors.C1.Lighten(0.5));
        testLoss.Axes.YAxis = right;
        trainLoss.Axes.YAxis = right;
        plt.ShowLegend(Alignment.MiddleRight);
        return new Chart(plt);
    }

    /// <summary>Share of each weight tensor that is zero, one bar per tensor (biases left out), with the overall share in the title.</summary>
    public static Chart SparsityBars(PruningReport report, string title)
    {
        var rows = report.Rows.Where(r => r.Shape.Count > 1).ToList();
        var plt = NewPlot($"{title} ({report.PrunedPercent:F1}% of all parameters pruned)", "", "pruned (%)");
        var bars = rows.Select((r, i) => new Bar { Position = i, Value = 100.0 - r.NonZeroPercent, FillColor = Colors.C0, Label = $"{100.0 - r.NonZeroPercent:F1}" }).ToList();
        var plot = plt.Add.Bars(bars);
        plot.ValueLabelStyle.FontSize = 11;
        plt.Axes.Bottom.SetTicks(rows.Select((_, i) => (double)i).ToArray(), rows.Select(r => r.Name).ToArray());
        plt.Axes.Bottom.TickLabelStyle.Rotation = rows.Count > 6 ? 45 : 0;
        plt.Axes.Bottom.TickLabelStyle.Alignment = rows.Count > 6 ? Alignment.MiddleLeft : Alignment.UpperCenter;
        plt.Axes.SetLimitsY(0, 105);
        plt.Axes.Margins(bottom: 0);
        return new Chart(plt);
    }

    /// <summary>Test accuracy against the share of weights pruned, one line per series (e.g. per schedule or per run step).</summary>
    public static Chart AccuracyVsSparsity(IEnumerable<Series> series, string title)
    {
        var plt = NewPlot(title, "weights pruned (%)", "test accuracy (%)");
        int i = 0;
        foreach (var s in series)
        {
            var line = Line(plt, s.X.Select(x => x * 100).ToArray(), s.Y.ToArray(), s.Label, Palette(i++));
            line.MarkerSize = 7;
        }
        plt.ShowLegend(Alignment.LowerLeft);
        return new Chart(plt);
    }

    /// <summary>Accuracy against the share of one layer's weights pruned, a line per layer; the unpruned accuracy in grey.</summary>
    public static Chart SensitivityCurves(SensitivityResult result, string title)
    {
        var plt = NewPlot(title, "weights of the layer pruned (%)", "test accuracy (%)");
        int i = 0;
        foreach (var l in result.Layers)
            Line(plt, l.Points.Select(p => p.Sparsity * 100).ToArray(), l.Points.Select(p => p.Accuracy).ToArray(), l.Layer, Palette(i++)).MarkerSize = 5;
        var baseline = plt.Add.HorizontalLine(result.BaselineAccuracy, 1, Colors.Gray);
        baseline.LegendText = "unpruned";
        plt.ShowLegend(Alignment.LowerLeft);
        return new Chart(plt);
    }

    /// <summary>
    /// A sans-serif family the system has (ScottPlot's own detection maps every family to DejaVu Serif on Debian);
    /// null leaves ScottPlot's choice.
    /// </summary>
    private static readonly Lazy<string?> SansFont = new(() =>
    {
        var families = SkiaSharp.SKFontManager.Default.FontFamilies.ToHashSet(StringComparer.OrdinalIgnoreCase);
        return new[] { "DejaVu Sans", "Liberation Sans", "Noto Sans", "Arial", "Helvetica" }.FirstOrDefault(families.Contains);
    });

    private static Plot NewPlot(string title, string x, string y)
    {
        var plt = new Plot();
        if (SansFont.Value is { } font) plt.Font.Set(font);
        plt.Title(title);
        plt.XLabel(x);
        plt.YLabel(y);
        plt.Axes.Title.Label.FontSize = 16;
        return plt;
    }

    // Solid lines only: SkiaSharp's SVG canvas cannot draw dash patterns and prints "Unsupported path effect" to stdout.
    private static ScottPlot.Plottables.Scatter Line(Plot plt, double[] x, double[] y, string label, Color color)
    {
        var s = plt.Add.Scatter(x, y, color);
        s.LegendText = label;
        s.LineWidth = 2;
        s.MarkerSize = x.Length > 40 ? 0 : 4;
        return s;
    }

    private static Color Palette(int i) => new ScottPlot.Palettes.Category10().GetColor(i);
}

/// <summary>A drawn chart: save it as PNG and SVG, or get the SVG text for a self-contained HTML page.</summary>
public sealed class Chart(Plot plot)
{
    public const int DefaultWidth = 720, DefaultHeight = 420;

    public Plot Plot { get; } = plot;

    /// <summary>Writes <c>path.png</c> and <c>path.svg</c> (path without extension); returns both paths.</summary>
    public (string Png, string Svg) Save(string pathWithoutExtension, int width = DefaultWidth, int height = DefaultHeight)
    {
        string? dir = Path.GetDirectoryName(Path.GetFullPath(pathWithoutExtension));
        if (dir is not null) Directory.CreateDirectory(dir);
        string png = pathWithoutExtension + ".png", svg = pathWithoutExtension + ".svg";
        SharpPrune.IO.AtomicFile.WriteAllBytes(png, Plot.GetImageBytes(width, height, ImageFormat.Png));
        SharpPrune.IO.AtomicFile.WriteAllText(svg, Svg(width, height));
        return (png, svg);
    }

    public string Svg(int width = DefaultWidth, int height = DefaultHeight) => Plot.GetSvgXml(width, height);
}
