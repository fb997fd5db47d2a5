using System.Globalization;
using SharpPrune.Pruning;

namespace SharpPrune.Cli.Commands;

/// <summary>
/// The pruning methods <c>sharpprune prune</c> offers, one entry each: the <c>--method</c> choices, the help text,
/// which options a method reads (and so what its description and history record show), and how to build it.
/// Adding a method to the CLI is adding an entry here.
/// </summary>
internal static class PruneMethods
{
    /// <summary>The options of a <see cref="PruneStep"/> a method reads besides the amount.</summary>
    [Flags]
    public enum Uses { None = 0, Norm = 1, Dim = 2, Seed = 4, Quality = 8 }

    /// <param name="Name">What <c>--method</c> takes.</param>
    /// <param name="Help">One phrase for <c>--help</c>.</param>
    /// <param name="Global">Ranks all selected tensors together (<see cref="Prune.GlobalUnstructured(IEnumerable{ValueTuple{NN.Module, string}}, BasePruningMethod, IReadOnlyDictionary{ValueTuple{NN.Module, string}, Tensor}?)"/>)
    /// instead of each tensor on its own.</param>
    /// <param name="Create">The method instance for a step and a layer (its full name; "" for a global method),
    /// sharing one generator across the layers of a step.</param>
    public sealed record Spec(string Name, string Help, bool Global, Uses Uses, Func<PruneStep, string, Generator, BasePruningMethod> Create);

    public static readonly IReadOnlyList<Spec> All =
    [
        new("l1-unstructured", "the smallest-magnitude entries of each tensor", false, Uses.None,
            (s, layer, _) => new L1Unstructured(s.AmountFor(layer))),
        new("random-unstructured", "random entries of each tensor", false, Uses.Seed,
            (s, layer, g) => new RandomUnstructured(s.AmountFor(layer), g)),
        new("ln-structured", "the channels along --dim of smallest --n norm in each tensor", false, Uses.Norm | Uses.Dim,
            (s, layer, _) => double.TryParse(s.N, NumberStyles.Float, CultureInfo.InvariantCulture, out double p)
                ? new LnStructured(s.AmountFor(layer), p, s.Dim) : new LnStructured(s.AmountFor(layer), s.N, s.Dim)),
        new("random-structured", "random channels along --dim of each tensor", false, Uses.Dim | Uses.Seed,
            (s, layer, g) => new RandomStructured(s.AmountFor(layer), s.Dim, g)),
        new("threshold", "the entries of each tensor below --quality x the standard deviation of its weights (Han et al. 2015)", false, Uses.Quality,
            (s, _, _) => new ThresholdUnstructured(s.Quality!.Value)),
        new("global-l1", "the smallest-magnitude entries of all selected tensors ranked together", true, Uses.None,
            (s, _, _) => new L1Unstructured(s.Amount)),
        new("global-random", "random entries of all selected tensors together", true, Uses.Seed,
            (s, _, g) => new RandomUnstructured(s.Amount, g)),
    ];

    public static IEnumerable<string> Names => All.Select(m => m.Name);

    /// <summary>The <c>--method</c> help: every method with its phrase.</summary>
    public static string HelpText => "Pruning method: " + string.Join("; ", All.Select(m => $"{m.Name}: {m.Help}"));

    public static Spec Get(string name) =>
        All.FirstOrDefault(m => string.Equals(m.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new CliUsageException($"unknown --method '{name}'; valid: {string.Join(", ", Names)}");
}
