using System.Globalization;
using System.Text;
using System.Text.Json;
using SharpPrune.Autograd;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>Accuracy (percent) and loss of the model with one layer pruned to <see cref="Sparsity"/>.</summary>
public sealed record SensitivityPoint(double Sparsity, double Accuracy, double Loss);

/// <summary>One layer's curve: accuracy against the share of its weights pruned.</summary>
public sealed record LayerSensitivity(string Layer, IReadOnlyList<SensitivityPoint> Points);

/// <summary>
/// Sensitivity analysis as in Han et al. 2015 (fig. 6) and Distiller: every layer is pruned alone, by magnitude,
/// to each sparsity, the model is evaluated, and the layer is put back exactly as it was. Layers whose accuracy
/// holds up under heavy pruning can be pruned more: <see cref="SensitivityResult.RatesFor"/> turns the curves into
/// per-layer rates for an accepted accuracy drop.
/// </summary>
public static class SensitivityAnalysis
{
    /// <summary>
    /// Runs the analysis. <paramref name="evaluate"/> returns (accuracy in percent, loss) of the model as it is;
    /// <paramref name="progress"/> hears about every point. The model is left bit for bit as it was (weights,
    /// masks, which tensors are pruned). A layer pruned before keeps its mask; sparsities are of the whole layer,
    /// and one below what it already has prunes nothing more.
    /// </summary>
    public static SensitivityResult Run(IReadOnlyList<(string Name, Module Module)> layers, IReadOnlyList<double> sparsities,
        Func<(double Accuracy, double Loss)> evaluate, Action<string, SensitivityPoint>? progress = null, string tensorName = "weight")
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(sparsities);
        ArgumentNullException.ThrowIfNull(evaluate);
        if (layers.Count == 0) throw new ArgumentException("no layers to analyse");
        if (sparsities.Count == 0) throw new ArgumentException("no sparsities to try");
        foreach (var s in sparsities)
            if (!(s >= 0 && s <= 1)) throw new ArgumentException($"sparsities must be in [0, 1], got {s.ToString(CultureInfo.InvariantCulture)}");
        foreach (var (_, m) in layers) BasePruningMethod.Inspect(m, tensorName); // all checked first

        var (baseAcc, baseLoss) = evaluate();
        var result = new List<LayerSensitivity>();
        foreach (var (name, module) in layers)
        {
            var points = new List<SensitivityPoint>();
            foreach (var s in sparsities)
            {
                var undo = PruneInPlace(module, tensorName, s);
                try
                {
                    var (acc, loss) = evaluate();
                    var p = new SensitivityPoint(s, acc, loss);
                    points.Add(p);
                    progress?.Invoke(name, p);
                }
                finally { undo(); }
            }
            result.Add(new LayerSensitivity(name, points));
        }
        return new SensitivityResult(baseAcc, baseLoss, result);
    }

    /// <summary>
    /// Prunes <c>m[name]</c> to <paramref name="sparsity"/> by magnitude without touching hooks or the
    /// reparametrisation: a dense tensor is multiplied by the mask in place, a pruned one gets the stricter mask
    /// in its <c>_mask</c> buffer. The returned action writes the saved values back.
    /// </summary>
    private static Action PruneInPlace(Module m, string name, double sparsity)
    {
        var (_, hook) = BasePruningMethod.FindHook(m, name);
        var current = BasePruningMethod.EffectiveTensor(m, name, hook is not null);
        var target = hook is null ? m[name]! : m[name + "_mask"]!;
        var saved = target.Clone();
        var oldMask = hook is null ? Tensor.OnesLike(current) : saved;
        long need = (long)Math.Round(sparsity * current.Numel, MidpointRounding.ToEven) - (current.Numel - oldMask.CountNonZero());
        if (need > 0)
        {
            Tensor mask;
            using (GradMode.NoGrad())
                mask = PruningContainer.CombineMasks(new L1Unstructured(Amount.Absolute((int)need)), current, oldMask);
            using (GradMode.NoGrad())
                target.CopyFrom(hook is null ? MaskIndexing.Multiply(target, mask) : mask);
            if (hook is not null) m[name] = hook.ApplyMask(m);
        }
        return () =>
        {
            using (GradMode.NoGrad()) target.CopyFrom(saved);
            if (hook is not null) m[name] = hook.ApplyMask(m);
        };
    }

    /// <summary>Parses <c>start:stop:step</c> (stop included, as Distiller's <c>np.arange(0, 0.95, 0.05)</c> with the end kept) or a comma list.</summary>
    public static IReadOnlyList<double> ParseSparsities(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var inv = CultureInfo.InvariantCulture;
        double Num(string s) => double.TryParse(s.Trim(), NumberStyles.Float, inv, out double v) && v >= 0 && v <= 1 ? v
            : throw new ArgumentException($"sparsities must be fractions in [0, 1], got '{s.Trim()}' (expected start:stop:step, e.g. 0.1:0.95:0.05, or a list 0.5,0.8,0.9)");
        var parts = text.Split(':');
        if (parts.Length == 1) return text.Split(',', StringSplitOptions.RemoveEmptyEntries).Select(Num).ToList();
        if (parts.Length != 3) throw new ArgumentException($"'{text}' is not start:stop:step (e.g. 0.1:0.95:0.05)");
        double start = Num(parts[0]), stop = Num(parts[1]), step = double.TryParse(parts[2], NumberStyles.Float, inv, out double st) && st > 0 ? st
            : throw new ArgumentException($"the step of '{text}' must be a number > 0");
        if (stop < start) throw new ArgumentException($"'{text}': stop {stop.ToString(inv)} is below start {start.ToString(inv)}");
        var list = new List<double>();
        for (int i = 0; ; i++)
        {
            double v = Math.Round(start + i * step, 10);
            if (v > stop + 1e-9) break;
            list.Add(v);
        }
        return list;
    }
}

/// <summary>The curves of a <see cref="SensitivityAnalysis"/> with the unpruned model's accuracy.</summary>
public sealed record SensitivityResult(double BaselineAccuracy, double BaselineLoss, IReadOnlyList<LayerSensitivity> Layers)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    /// <summary>
    /// Per layer, the highest sparsity tried whose accuracy stays within <paramref name="maxDrop"/> percentage
    /// points of the baseline (0 when none does). Each layer is judged alone, so pruning all of them at these rates
    /// usually costs more than <paramref name="maxDrop"/>: fine-tune afterwards, or ask for a smaller drop.
    /// </summary>
    public LayerRates RatesFor(double maxDrop)
    {
        if (!(maxDrop >= 0)) throw new ArgumentException($"the accepted accuracy drop must be >= 0 percentage points, got {maxDrop}");
        return new LayerRates(Layers.Select(l => (l.Layer,
            l.Points.Where(p => p.Accuracy >= BaselineAccuracy - maxDrop).Select(p => p.Sparsity).DefaultIfEmpty(0).Max())));
    }

    /// <summary><c>layer,sparsity,accuracy,loss</c> rows, the baseline as layer "(none)" at sparsity 0.</summary>
    public string ToCsv()
    {
        var sb = new StringBuilder("layer,sparsity,accuracy,loss\n");
        sb.Append(string.Format(Inv, "(none),0,{0:R},{1:R}\n", BaselineAccuracy, BaselineLoss));
        foreach (var l in Layers)
            foreach (var p in l.Points)
                sb.Append(string.Format(Inv, "{0},{1:R},{2:R},{3:R}\n", l.Layer, p.Sparsity, p.Accuracy, p.Loss));
        return sb.ToString();
    }

    public string ToJson(double? maxDrop = null) => JsonSerializer.Serialize(new
    {
        baseline = new { accuracy = BaselineAccuracy, loss = BaselineLoss },
        layers = Layers.Select(l => new { layer = l.Layer, points = l.Points.Select(p => new { sparsity = p.Sparsity, accuracy = p.Accuracy, loss = p.Loss }) }),
        max_drop = maxDrop,
        rates = maxDrop is double d ? RatesFor(d).ToString() : null,
    }, new JsonSerializerOptions { WriteIndented = true });

    /// <summary>Accuracy per layer (rows) and sparsity (columns), percent.</summary>
    public string FormatTable()
    {
        var sparsities = Layers.SelectMany(l => l.Points.Select(p => p.Sparsity)).Distinct().Order().ToList();
        int w = Math.Max(8, Layers.Max(l => l.Layer.Length));
        var sb = new StringBuilder();
        sb.Append("layer".PadRight(w));
        foreach (var s in sparsities) sb.Append(string.Format(Inv, " {0,6:0.##}", s * 100));
        sb.Append("   (test accuracy in %, by % of the layer's weights pruned)\n");
        foreach (var l in Layers)
        {
            sb.Append(l.Layer.PadRight(w));
            foreach (var s in sparsities)
                sb.Append(l.Points.FirstOrDefault(p => p.Sparsity == s) is { } p ? string.Format(Inv, " {0,6:F2}", p.Accuracy) : "       ");
            sb.Append('\n');
        }
        sb.Append(string.Format(Inv, "baseline (nothing pruned): {0:F2}%\n", BaselineAccuracy));
        return sb.ToString();
    }
}
