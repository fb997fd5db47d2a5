using System.Text.Json;
using SharpPrune.NN;
using SharpPrune.Pruning;

namespace SharpPrune.Tests.Pruning;

/// <summary>The sparsity table of seed 000 (AlexNet on CIFAR-10), the tutorials' sparsity lines, and JSON.</summary>
public class PruningReportTests
{
    // Seed 000, verbatim.
    private const string SeedTable =
        "conv1.weight         | Nonzeros weight =   19515 /   23232 ( 84.00%) | Total_pruned =    3717 | Shape = (64, 3, 11, 11)\n" +
        "conv1.bias           | Nonzeros weight =      64 /      64 (100.00%) | Total_pruned =       0 | Shape = (64,)\n" +
        "conv2.weight         | Nonzeros weight =  116736 /  307200 ( 38.00%) | Total_pruned =  190464 | Shape = (192, 64, 5, 5)\n" +
        "conv2.bias           | Nonzeros weight =     192 /     192 (100.00%) | Total_pruned =       0 | Shape = (192,)\n" +
        "conv3.weight         | Nonzeros weight =  232243 /  663552 ( 35.00%) | Total_pruned =  431309 | Shape = (384, 192, 3, 3)\n" +
        "conv3.bias           | Nonzeros weight =     384 /     384 (100.00%) | Total_pruned =       0 | Shape = (384,)\n" +
        "conv4.weight         | Nonzeros weight =  327352 /  884736 ( 37.00%) | Total_pruned =  557384 | Shape = (256, 384, 3, 3)\n" +
        "conv4.bias           | Nonzeros weight =     256 /     256 (100.00%) | Total_pruned =       0 | Shape = (256,)\n" +
        "conv5.weight         | Nonzeros weight =  218235 /  589824 ( 37.00%) | Total_pruned =  371589 | Shape = (256, 256, 3, 3)\n" +
        "conv5.bias           | Nonzeros weight =     256 /     256 (100.00%) | Total_pruned =       0 | Shape = (256,)\n" +
        "fc1.weight           | Nonzeros weight =   94372 / 1048576 (  9.00%) | Total_pruned =  954204 | Shape = (4096, 256)\n" +
        "fc1.bias             | Nonzeros weight =    4096 /    4096 (100.00%) | Total_pruned =       0 | Shape = (4096,)\n" +
        "fc2.weight           | Nonzeros weight =  843437 / 16777216 (  5.03%) | Total_pruned = 15933779 | Shape = (4096, 4096)\n" +
        "fc2.bias             | Nonzeros weight =    4096 /    4096 (100.00%) | Total_pruned =       0 | Shape = (4096,)\n" +
        "fc3.weight           | Nonzeros weight =   10240 /   40960 ( 25.00%) | Total_pruned =   30720 | Shape = (10, 4096)\n" +
        "fc3.bias             | Nonzeros weight =      10 /      10 (100.00%) | Total_pruned =       0 | Shape = (10,)\n" +
        "----------------------------------------------------------------------\n" +
        "Alive: 1871484, Pruned weight: 18473166, Total: 20344650, Compression rate :      10.87x  ( 90.80% pruned)\n";

    private static readonly (string Layer, int[] Shape, int WeightNonZeros)[] AlexNet =
    {
        ("conv1", new[] { 64, 3, 11, 11 }, 19515), ("conv2", new[] { 192, 64, 5, 5 }, 116736),
        ("conv3", new[] { 384, 192, 3, 3 }, 232243), ("conv4", new[] { 256, 384, 3, 3 }, 327352),
        ("conv5", new[] { 256, 256, 3, 3 }, 218235), ("fc1", new[] { 4096, 256 }, 94372),
        ("fc2", new[] { 4096, 4096 }, 843437), ("fc3", new[] { 10, 4096 }, 10240),
    };

    /// <summary>A tensor with exactly <paramref name="nonZeros"/> non-zero entries, spread over the tensor.</summary>
    private static Tensor WithNonZeros(int[] shape, int nonZeros)
    {
        var t = Tensor.Zeros(shape);
        var d = t.Data;
        long n = d.Length;
        for (long i = 0; i < nonZeros; i++) d[(int)(i * n / nonZeros)] = 0.5f;
        return t;
    }

    [Fact]
    public void ReproducesTheSeedTableExactly()
    {
        var model = new ParamModule("AlexNet");
        foreach (var (layer, shape, nz) in AlexNet)
            model.RegisterModule(layer, new ParamModule(layer.StartsWith("fc") ? "Linear" : "Conv2d")
                .With("weight", WithNonZeros(shape, nz))
                .With("bias", Tensor.Full(new[] { shape[0] }, 0.1f)));
        var report = PruningReport.FromModule(model);
        Assert.Equal(SeedTable, report.FormatTable());
        Assert.Equal(1871484, report.Alive);
        Assert.Equal(18473166, report.Pruned);
        Assert.Equal(20344650, report.Total);
    }

    [Fact]
    public void PrunedParametersShowUnderTheirOwnNameWithMaskedValues()
    {
        var g = new Generator(1);
        var model = new Sequential(new Conv2d(1, 6, 3, generator: g), new Linear(24, 10, generator: g));
        Prune.L1Unstructured(model[0], "weight", 0.5);    // 27 of 54
        Prune.LnStructured(model[1], "weight", 3, 2, dim: 0); // 3 of 10 rows
        model[0]["weight_orig"]![5, 0, 0, 0] = 0f; // a change the stale attribute does not show yet...
        var mask = model[0]["weight_mask"]!;
        bool live = mask[5, 0, 0, 0] != 0;

        var rows = PruningReport.FromModule(model).Rows;
        Assert.Equal(new[] { "0.bias", "0.weight", "1.bias", "1.weight" }, rows.Select(r => r.Name)); // NamedParameters order
        Assert.Equal(27 - (live ? 1 : 0), rows[1].NonZeros); // ...but the report counts orig * mask
        Assert.Equal(54, rows[1].Total);
        Assert.Equal(new[] { 6, 1, 3, 3 }, rows[1].Shape);
        Assert.Equal(168, rows[3].NonZeros);
        Assert.Equal(72, rows[3].Pruned);
        Assert.Equal("1.weight             | Nonzeros weight =     168 /     240 ( 70.00%) | Total_pruned =      72 | Shape = (10, 24)",
            PruningReport.FormatRow(rows[3]));
    }

    [Fact]
    public void SparsityLinesUseTheTutorialsWording()
    {
        var conv1 = WithNonZeros(new[] { 6, 1, 5, 5 }, 150 - 8);
        Assert.Equal("Sparsity in conv1.weight: 5.33%", PruningReport.SparsityLine("conv1.weight", conv1));
        var conv2 = WithNonZeros(new[] { 16, 6, 5, 5 }, 2400 - 414);
        var fc1 = WithNonZeros(new[] { 120, 256 }, 30720 - 6768);
        var fc2 = WithNonZeros(new[] { 84, 120 }, 10080 - 1479);
        Assert.Equal("Sparsity in conv2.weight: 17.25%", PruningReport.SparsityLine("conv2.weight", conv2));
        Assert.Equal("Sparsity in fc1.weight: 22.03%", PruningReport.SparsityLine("fc1.weight", fc1));
        Assert.Equal("Sparsity in fc2.weight: 14.67%", PruningReport.SparsityLine("fc2.weight", fc2));
        Assert.Equal("Global sparsity: 20.00%", PruningReport.GlobalSparsityLine(new[] { conv1, conv2, fc1, fc2 }));
    }

    [Fact]
    public void JsonHasLayersAndTotals()
    {
        var report = new PruningReport(new[]
        {
            new PruningReportRow("a.weight", 3, 4, new[] { 2, 2 }),
            new PruningReportRow("a.bias", 0, 2, new[] { 2 }),
        });
        using var doc = JsonDocument.Parse(report.ToJson());
        var root = doc.RootElement;
        var layers = root.GetProperty("layers");
        Assert.Equal(2, layers.GetArrayLength());
        Assert.Equal("a.weight", layers[0].GetProperty("name").GetString());
        Assert.Equal(3, layers[0].GetProperty("nonzeros").GetInt64());
        Assert.Equal(4, layers[0].GetProperty("total").GetInt64());
        Assert.Equal(1, layers[0].GetProperty("pruned").GetInt64());
        Assert.Equal(75.0, layers[0].GetProperty("nonzero_percent").GetDouble());
        Assert.Equal(new[] { 2, 2 }, layers[0].GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(3, root.GetProperty("alive").GetInt64());
        Assert.Equal(3, root.GetProperty("pruned").GetInt64());
        Assert.Equal(6, root.GetProperty("total").GetInt64());
        Assert.Equal(2.0, root.GetProperty("compression_rate").GetDouble());
        Assert.Equal(50.0, root.GetProperty("pruned_percent").GetDouble());
        Assert.DoesNotContain('\n', report.ToJson(indented: false));
    }

    [Fact]
    public void EverythingPrunedGivesInfiniteRateAndNullInJson()
    {
        var report = PruningReport.FromTensors(new[] { ("w", Tensor.Zeros(2, 3)) });
        Assert.EndsWith("Compression rate :        infx  (100.00% pruned)\n", report.FormatTable());
        using var doc = JsonDocument.Parse(report.ToJson());
        Assert.Equal(JsonValueKind.Null, doc.RootElement.GetProperty("compression_rate").ValueKind);
    }
}
