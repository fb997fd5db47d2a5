using System.Text;
using System.Text.Json;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>One parameter of a <see cref="PruningReport"/>: its effective (masked) non-zeros out of its size.</summary>
public sealed record PruningReportRow(string Name, long NonZeros, long Total, IReadOnlyList<int> Shape)
{
    public long Pruned => Total - NonZeros;

    /// <summary>Share of non-zero entries, in percent.</summary>
    public double NonZeroPercent => 100.0 * NonZeros / Total;
}

/// <summary>
/// Per-parameter sparsity of a model in the layout of the AlexNet table of Han et al. 2015 ("Learning both Weights and Connections"):
/// <code>
/// conv1.weight         | Nonzeros weight =   19515 /   23232 ( 84.00%) | Total_pruned =    3717 | Shape = (64, 3, 11, 11)
/// ----------------------------------------------------------------------
/// Alive: 1871484, Pruned weight: 18473166, Total: 20344650, Compression rate :      10.87x  ( 90.80% pruned)
/// </code>
/// Rows follow <see cref="Module.NamedParameters"/>; a pruned <c>X_orig</c> is reported as <c>X</c> with the
/// values <c>X_orig * X_mask</c> (computed from the module, never from a possibly stale attribute).
/// </summary>
public sealed class PruningReport
{
    public IReadOnlyList<PruningReportRow> Rows { get; }

    public PruningReport(IReadOnlyList<PruningReportRow> rows) => Rows = rows;

    public long Alive => Rows.Sum(r => r.NonZeros);
    public long Total => Rows.Sum(r => r.Total);
    public long Pruned => Total - Alive;

    /// <summary>Total / alive (∞ when nothing is alive).</summary>
    public double CompressionRate => (double)Total / Alive;

    public double PrunedPercent => 100.0 * Pruned / Total;

    /// <summary>A row per parameter of <paramref name="model"/>, with pruned parameters at their effective values.</summary>
    public static PruningReport FromModule(Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var rows = new List<PruningReportRow>();
        foreach (var (fullName, p) in model.NamedParameters())
        {
            int dot = fullName.LastIndexOf('.');
            string path = dot < 0 ? "" : fullName[..dot], leaf = fullName[(dot + 1)..];
            if (leaf.EndsWith("_orig", StringComparison.Ordinal))
            {
                string stem = leaf[..^"_orig".Length];
                var module = model.GetSubmodule(path);
                if (module.HasBuffer(stem + "_mask") && module[stem + "_mask"] is { } mask && Shapes.Equal(mask.Shape, p.Shape))
                {
                    rows.Add(new PruningReportRow(fullName[..^"_orig".Length], CountNonZeroProduct(p, mask), p.Numel, p.ShapeCopy()));
                    continue;
                }
            }
            if (leaf.EndsWith(SharedWeight.CodebookSuffix, StringComparison.Ordinal))
            {
                // A weight-shared tensor is reported as the weight it computes (codebook values at the kept entries).
                string stem = leaf[..^SharedWeight.CodebookSuffix.Length];
                var module = model.GetSubmodule(path);
                if (WeightSharing.Find(module, stem) is { } hook)
                {
                    Tensor w;
                    using (Autograd.GradMode.NoGrad()) w = hook.Compute(module);
                    rows.Add(new PruningReportRow(fullName[..^SharedWeight.CodebookSuffix.Length], w.CountNonZero(), w.Numel, w.ShapeCopy()));
                    continue;
                }
            }
            rows.Add(new PruningReportRow(fullName, p.CountNonZero(), p.Numel, p.ShapeCopy()));
        }
        return new PruningReport(rows);
    }

    /// <summary>A row per named tensor, counted as given.</summary>
    public static PruningReport FromTensors(IEnumerable<(string Name, Tensor Tensor)> tensors) =>
        new(tensors.Select(t => new PruningReportRow(t.Name, t.Tensor.CountNonZero(), t.Tensor.Numel, t.Tensor.ShapeCopy())).ToList());

    private static long CountNonZeroProduct(Tensor a, Tensor b)
    {
        var x = a.Data; var y = b.Data;
        long n = 0;
        for (int i = 0; i < x.Length; i++) if (x[i] * y[i] != 0f) n++;
        return n;
    }

    /// <summary>
    /// The table: a line per row, 70 dashes, and the totals line; each line ends with '\n'. Python's format
    /// strings, reproduced exactly:
    /// <c>f"{name:20} | Nonzeros weight = {nz:7} / {total:7} ({100 * nz / total:6.2f}%) | Total_pruned = {total - nz:7} | Shape = {shape}"</c>
    /// and <c>f"Alive: {alive}, Pruned weight: {pruned}, Total: {total}, Compression rate : {total / alive:10.2f}x  ({100 * pruned / total:6.2f}% pruned)"</c>.
    /// </summary>
    public string FormatTable()
    {
        var sb = new StringBuilder();
        foreach (var r in Rows) sb.Append(FormatRow(r)).Append('\n');
        sb.Append('-', 70).Append('\n');
        sb.Append(FormatSummary()).Append('\n');
        return sb.ToString();
    }

    public static string FormatRow(PruningReportRow r) =>
        $"{r.Name,-20} | Nonzeros weight = {PyFormat.Int(r.NonZeros, 7)} / {PyFormat.Int(r.Total, 7)} ({PyFormat.Fixed(r.NonZeroPercent, 2, 6)}%) | Total_pruned = {PyFormat.Int(r.Pruned, 7)} | Shape = {Shapes.Format(r.Shape)}";

    public string FormatSummary() =>
        $"Alive: {Alive}, Pruned weight: {Pruned}, Total: {Total}, Compression rate : {PyFormat.Fixed(CompressionRate, 2, 10)}x  ({PyFormat.Fixed(PrunedPercent, 2, 6)}% pruned)";

    /// <summary>The tutorials' line <c>"Sparsity in conv1.weight: 50.00%"</c> (share of entries equal to zero).</summary>
    public static string SparsityLine(string name, Tensor tensor) =>
        $"Sparsity in {name}: {PyFormat.Fixed(100.0 * (tensor.Numel - tensor.CountNonZero()) / tensor.Numel, 2)}%";

    /// <summary>The tutorials' line <c>"Global sparsity: 20.00%"</c> over several tensors together.</summary>
    public static string GlobalSparsityLine(IEnumerable<Tensor> tensors)
    {
        long zeros = 0, total = 0;
        foreach (var t in tensors) { zeros += t.Numel - t.CountNonZero(); total += t.Numel; }
        return $"Global sparsity: {PyFormat.Fixed(100.0 * zeros / total, 2)}%";
    }

    /// <summary>
    /// The report as JSON: <c>{"layers": [{"name", "nonzeros", "total", "pruned", "nonzero_percent", "shape"}],
    /// "alive", "pruned", "total", "compression_rate", "pruned_percent"}</c>; non-finite numbers are written as null.
    /// </summary>
    public string ToJson(bool indented = true)
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = indented }))
        {
            w.WriteStartObject();
            w.WriteStartArray("layers");
            foreach (var r in Rows)
            {
                w.WriteStartObject();
                w.WriteString("name", r.Name);
                w.WriteNumber("nonzeros", r.NonZeros);
                w.WriteNumber("total", r.Total);
                w.WriteNumber("pruned", r.Pruned);
                WriteDouble(w, "nonzero_percent", r.NonZeroPercent);
                w.WriteStartArray("shape");
                foreach (var s in r.Shape) w.WriteNumberValue(s);
                w.WriteEndArray();
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("alive", Alive);
            w.WriteNumber("pruned", Pruned);
            w.WriteNumber("total", Total);
            WriteDouble(w, "compression_rate", CompressionRate);
            WriteDouble(w, "pruned_percent", PrunedPercent);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    private static void WriteDouble(Utf8JsonWriter w, string name, double v)
    {
        if (double.IsFinite(v)) w.WriteNumber(name, v); else w.WriteNull(name);
    }

    public override string ToString() => FormatTable();
}
