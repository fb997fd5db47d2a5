using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Cli;

/// <summary>
/// Every <c>--method</c> of <c>sharpprune prune</c> gives the masks the library call gives, records the options it
/// reads (and only those) in the history, and is listed in the help.
/// </summary>
public class PruneMethodsCliTests
{
    private static readonly (string Method, Action<IReadOnlyList<(Module Module, string Name)>, Generator> Reference, string[] Recorded)[] Cases =
    [
        ("l1-unstructured", (ts, _) => { foreach (var (m, n) in ts) Prune.L1Unstructured(m, n, 0.4); }, []),
        ("random-unstructured", (ts, g) => { foreach (var (m, n) in ts) Prune.RandomUnstructured(m, n, 0.4, g); }, ["seed"]),
        ("ln-structured", (ts, _) => { foreach (var (m, n) in ts) Prune.LnStructured(m, n, 0.4, 1.0, 0); }, ["n", "dim"]),
        ("random-structured", (ts, g) => { foreach (var (m, n) in ts) Prune.RandomStructured(m, n, 0.4, 0, g); }, ["dim", "seed"]),
        ("global-l1", (ts, _) => Prune.GlobalUnstructured(ts, GlobalPruningMethod.L1Unstructured, 0.4), []),
        ("global-random", (ts, g) => Prune.GlobalUnstructured(ts, GlobalPruningMethod.RandomUnstructured, 0.4, generator: g), ["seed"]),
    ];

    public static TheoryData<string> Methods => new(Cases.Select(c => c.Method));

    [Theory]
    [MemberData(nameof(Methods))]
    public void EachMethodPrunesAsTheLibraryAndRecordsItsOptions(string method)
    {
        var (_, reference, recorded) = Cases.Single(c => c.Method == method);
        string dir = CliRunner.TempDir(), dense = Path.Combine(dir, "dense.safetensors"), pruned = Path.Combine(dir, "pruned.safetensors");
        var model = new LeNet5(10, new Generator(5));
        Checkpoint.Save(dense, model, null, null, new Dictionary<string, string> { [CheckpointKeys.Model] = "lenet5", [CheckpointKeys.NumClasses] = "10" });

        CliRunner.Ok("prune", "--load", dense, "--method", method, "--amount", "0.4", "--n", "1", "--dim", "0", "--seed", "9", "--save", pruned);

        var targets = model.NamedModules().Where(m => m.Module is Conv2d or Linear).Select(m => (m.Module, "weight")).ToList();
        reference(targets, new Generator(9));
        var expected = model.StateDict().Where(kv => kv.Key.EndsWith("_mask")).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        var ckpt = Checkpoint.Load(pruned);
        var actual = ckpt.Model.Where(kv => kv.Key.EndsWith("_mask")).ToDictionary(kv => kv.Key, kv => kv.Value.ToArray());
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (key, mask) in expected) Assert.True(mask.SequenceEqual(actual[key]), $"{method}: {key} differs from the library's mask");

        using var history = JsonDocument.Parse(ckpt.Get(PruneHistoryKey)!);
        var step = history.RootElement.EnumerateArray().Single();
        Assert.Equal(method, step.GetProperty("method").GetString());
        foreach (var option in new[] { "n", "dim", "seed" })
            Assert.True(recorded.Contains(option) == (step.GetProperty(option).ValueKind != JsonValueKind.Null),
                $"{method}: history {(recorded.Contains(option) ? "lacks" : "records")} '{option}'");
    }

    [Fact]
    public void TheHelpListsEveryMethod()
    {
        var help = CliRunner.Ok("prune", "--help").Out;
        foreach (var (method, _, _) in Cases) Assert.Contains(method + ":", help);
    }

    private const string PruneHistoryKey = "pruning";
}
