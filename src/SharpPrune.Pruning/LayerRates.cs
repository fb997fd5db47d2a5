using System.Globalization;
using SharpPrune.NN;

namespace SharpPrune.Pruning;

/// <summary>
/// A pruning rate per layer, as in Han et al.'s AlexNet table (seed 000): <c>conv1=0.16,conv2=0.62,fc2=0.9497</c>
/// prunes 16% of conv1's weights, 62% of conv2's, … by magnitude, each layer on its own. Layer names are module
/// paths (<see cref="Module.NamedModules"/>), e.g. <c>features.0</c>.
/// </summary>
public sealed class LayerRates
{
    public IReadOnlyList<(string Layer, double Rate)> Rates { get; }

    public LayerRates(IEnumerable<(string Layer, double Rate)> rates)
    {
        var list = rates.ToList();
        if (list.Count == 0) throw new ArgumentException("no layer rates given (expected e.g. 'conv1=0.16,fc1=0.9')");
        var seen = new HashSet<string>();
        foreach (var (layer, rate) in list)
        {
            if (!seen.Add(layer)) throw new ArgumentException($"layer '{layer}' is given twice");
            if (!(rate >= 0 && rate <= 1)) throw new ArgumentException($"rate of '{layer}' must be a fraction in [0, 1], got {rate.ToString(CultureInfo.InvariantCulture)}");
        }
        Rates = list;
    }

    /// <summary>Parses <c>name=rate,name=rate</c> (spaces allowed; rates are fractions in [0, 1]).</summary>
    public static LayerRates Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = new List<(string, double)>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            int eq = part.IndexOf('=');
            if (eq <= 0 || eq == part.Length - 1)
                throw new ArgumentException($"'{part}' is not 'layer=rate' (expected e.g. 'conv1=0.16,fc1=0.9')");
            string layer = part[..eq].Trim(), value = part[(eq + 1)..].Trim();
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double rate))
                throw new ArgumentException($"rate of '{layer}' is not a number: '{value}'");
            list.Add((layer, rate));
        }
        return new LayerRates(list);
    }

    /// <summary>
    /// Prunes each listed layer's <paramref name="name"/> tensor with <paramref name="method"/>(rate)
    /// (default: <see cref="L1Unstructured"/>, the magnitude pruning of the AlexNet table). Every layer is checked
    /// before any is pruned: an unknown layer or a layer without the tensor changes nothing.
    /// </summary>
    public void Apply(Module model, Func<double, BasePruningMethod>? method = null, string name = "weight")
    {
        ArgumentNullException.ThrowIfNull(model);
        var modules = model.NamedModules().ToDictionary(m => m.Name, m => m.Module);
        var plan = new List<Module>();
        foreach (var (layer, _) in Rates)
        {
            if (!modules.TryGetValue(layer, out var m) || layer.Length == 0)
                throw new ArgumentException($"no layer named '{layer}'; layers with a '{name}': {string.Join(", ", PrunableLayers(model, name))}");
            BasePruningMethod.Inspect(m, name); // throws, touching nothing, when the layer has no such parameter
            plan.Add(m);
        }
        for (int i = 0; i < plan.Count; i++)
            BasePruningMethod.Apply(plan[i], name, method?.Invoke(Rates[i].Rate) ?? new L1Unstructured(Rates[i].Rate));
    }

    /// <summary>Names of the submodules that hold a parameter (or pruned parameter) <paramref name="name"/>.</summary>
    public static IEnumerable<string> PrunableLayers(Module model, string name = "weight") =>
        model.NamedModules().Where(m => m.Name.Length > 0 && (m.Module.HasParameter(name) || m.Module.HasParameter(name + "_orig"))).Select(m => m.Name);

    public override string ToString() =>
        string.Join(",", Rates.Select(r => $"{r.Layer}={r.Rate.ToString("G", CultureInfo.InvariantCulture)}"));
}
