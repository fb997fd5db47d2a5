using SharpPrune.Plots;
using SharpPrune.Pruning;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Plots;

public class ChartTests
{
    private static readonly EpochLog[] Log =
    [
        new(1, 0.1, 1.2, 60, 0.9, 70, 3, 1000),
        new(2, 0.05, 0.7, 75, 0.6, 78, 3, 1000),
        new(3, 0.01, 0.5, 82, 0.5, 81, 3, 1000),
    ];

    [Fact]
    public void ChartsSavePngAndSvg()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpprune-plots", Guid.NewGuid().ToString("N"));
        var (png, svg) = Charts.TrainingCurves(Log, "training").Save(Path.Combine(dir, "curves"));
        var bytes = File.ReadAllBytes(png);
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Assert.True(bytes.Length > 5000, $"a 720x420 chart is more than a blank image ({bytes.Length} bytes)");
        string text = File.ReadAllText(svg);
        Assert.Contains("<svg xmlns=\"http://www.w3.org/2000/svg\"", text);
        Assert.Contains("test accuracy", text);
    }

    [Fact]
    public void SparsityBarsNameEachWeightTensorAndSkipBiases()
    {
        var report = new PruningReport([new("conv1.weight", 75, 150, [6, 1, 5, 5]), new("conv1.bias", 6, 6, [6]), new("fc1.weight", 10, 100, [10, 10])]);
        string svg = Charts.SparsityBars(report, "bars").Svg();
        Assert.Contains("conv1.weight", svg);
        Assert.Contains("fc1.weight", svg);
        Assert.DoesNotContain("conv1.bias", svg);
        Assert.Contains("90.0", svg); // fc1: 90% pruned, as the bar's label
    }

    [Fact]
    public void TheHtmlReportIsOneSelfContainedPage()
    {
        var r = new HtmlReport("run <x>")
            .Paragraph("a & b")
            .Table(["step", "acc"], [["01-train", "81.00%"]])
            .Chart(Charts.AccuracyVsSparsity([new Series("s", [0.0, 0.5, 0.9], [81, 80, 70])], "acc"), "caption");
        string html = r.ToHtml();
        Assert.Contains("<title>run &lt;x&gt;</title>", html);
        Assert.Contains("<p>a &amp; b</p>", html);
        Assert.Contains("<td class=\"n\">81.00%</td>", html);
        Assert.Contains("<figure><svg xmlns=", html);
        Assert.DoesNotContain("<?xml", html);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("src=", html);
    }
}
