using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Pruning;
using static SharpPrune.Tests.Pruning.PruningTestModules;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// Masks from torch.nn.utils.prune (scripts/make_pruning_fixtures.py, torch 1.13), reproduced exactly. The inputs
/// have no ties at any cut, so PyTorch's masks are fully determined. Each test repeats the calls listed in the
/// fixture's metadata for its case.
/// </summary>
public class GoldenMaskTests
{
    private static readonly Lazy<SafeTensorsFile> File = new(() => Fixtures.Load("pruning", "masks.safetensors"));
    private static Tensor Get(string name) => File.Value.Get(name);
    private static ParamModule Holder(Tensor w) => new("Module", ("weight", w));
    private static Amount ToAmount(object a) => a is int i ? Amount.Absolute(i) : Amount.Fraction((double)a); // not "? i : (double)a": that is a double

    private static void AssertMask(string key, Module m)
    {
        var expected = Get(key);
        var actual = m["weight_mask"]!;
        Assert.Equal(expected.ShapeCopy(), actual.ShapeCopy());
        var e = expected.ToArray(); var a = actual.ToArray();
        var wrong = Enumerable.Range(0, e.Length).Where(i => e[i] != a[i]).ToList();
        Assert.True(wrong.Count == 0, $"{key}: {wrong.Count} of {e.Length} entries differ from PyTorch, first at flat index {(wrong.Count > 0 ? wrong[0] : -1)}");
    }

    [Theory]
    [InlineData("l1_int0", 0)]
    [InlineData("l1_int1", 1)]
    [InlineData("l1_float1", 1.0)]
    [InlineData("l1_float0.3", 0.3)]
    [InlineData("l1_int7", 7)]
    [InlineData("l1_round0.5", 0.5)]
    [InlineData("l1_round0.7", 0.7)]
    [InlineData("l1_round0.1", 0.1)]
    public void L1Unstructured(string c, object amount)
    {
        var m = Prune.L1Unstructured(Holder(Get(c + ".input")), "weight", ToAmount(amount));
        AssertMask(c + ".mask", m);
    }

    [Fact]
    public void L1Iterative()
    {
        var m = Holder(Get("l1_iter.input"));
        Amount[] steps = { 0.3, 0.3, 2 };
        for (int i = 0; i < steps.Length; i++)
        {
            Prune.L1Unstructured(m, "weight", steps[i]);
            AssertMask($"l1_iter.mask.{i + 1}", m);
        }
    }

    public static TheoryData<string, int> LnCases()
    {
        var d = new TheoryData<string, int>();
        foreach (var n in new[] { "1", "2", "inf", "-inf", "0", "fro" })
            foreach (var dim in new[] { 0, 1, -1 }) d.Add(n, dim);
        return d;
    }

    [Theory]
    [MemberData(nameof(LnCases))]
    public void LnStructured(string n, int dim)
    {
        string c = $"ln_n{n}_dim{dim}";
        var m = Holder(Get(c + ".input"));
        if (n == "fro") Prune.LnStructured(m, "weight", 0.5, "fro", dim);
        else Prune.LnStructured(m, "weight", 0.5, n switch { "inf" => double.PositiveInfinity, "-inf" => double.NegativeInfinity, _ => double.Parse(n) }, dim);
        AssertMask(c + ".mask", m);
    }

    [Fact]
    public void LnAfterL1Unstructured()
    {
        var m = Prune.L1Unstructured(Holder(Get("l1_then_ln.input")), "weight", 0.4);
        AssertMask("l1_then_ln.mask.1", m);
        Prune.LnStructured(m, "weight", 2, 2, dim: 0);
        AssertMask("l1_then_ln.mask.2", m);
        Prune.LnStructured(m, "weight", 1, 1, dim: 1);
        AssertMask("l1_then_ln.mask.3", m);
    }

    [Fact]
    public void L1AfterLnStructured()
    {
        var m = Prune.LnStructured(Holder(Get("ln_then_l1.input")), "weight", 0.5, 2, dim: 0);
        AssertMask("ln_then_l1.mask.1", m);
        Prune.L1Unstructured(m, "weight", 0.3);
        AssertMask("ln_then_l1.mask.2", m);
    }

    [Fact]
    public void LnAfterLnActsOnRemainingChannels()
    {
        var m = Prune.LnStructured(Holder(Get("ln_then_ln.input")), "weight", 2, 2, dim: 0);
        AssertMask("ln_then_ln.mask.1", m);
        Prune.LnStructured(m, "weight", 0.5, 2, dim: 0);
        AssertMask("ln_then_ln.mask.2", m);
    }

    private static ParamModule[] GlobalModules(string c) =>
        Enumerable.Range(0, 3).Select(i => Holder(Get($"{c}.input.{i}"))).ToArray();

    [Theory]
    [InlineData("global_float", 0.35)]
    [InlineData("global_int", 20)]
    public void GlobalUnstructured(string c, object amount)
    {
        var ms = GlobalModules(c);
        Prune.GlobalUnstructured(ms.Select(m => ((Module)m, "weight")), GlobalPruningMethod.L1Unstructured, ToAmount(amount));
        for (int i = 0; i < 3; i++) AssertMask($"{c}.mask.{i}", ms[i]);
    }

    [Fact]
    public void GlobalAfterLocalPruning()
    {
        const string c = "global_after_l1";
        var ms = GlobalModules(c);
        Prune.L1Unstructured(ms[1], "weight", 0.5);
        Prune.GlobalUnstructured(ms.Select(m => ((Module)m, "weight")), new L1Unstructured(0.3));
        for (int i = 0; i < 3; i++) AssertMask($"{c}.mask.{i}", ms[i]);
        Assert.IsType<PruningContainer>(ms[1].ForwardPreHooks.Values.Single()); // L1Unstructured, then CustomFromMask
    }

    [Fact]
    public void L1WithImportanceScores()
    {
        var m = Prune.L1Unstructured(Holder(Get("l1_scores.input")), "weight", 0.4, importanceScores: Get("l1_scores.scores"));
        AssertMask("l1_scores.mask", m);
    }

    [Fact]
    public void LnWithImportanceScores()
    {
        var m = Prune.LnStructured(Holder(Get("ln_scores.input")), "weight", 2, 2, dim: 1, importanceScores: Get("ln_scores.scores"));
        AssertMask("ln_scores.mask", m);
    }

    [Fact]
    public void GlobalWithImportanceScores()
    {
        const string c = "global_scores";
        var ms = GlobalModules(c);
        var scores = new Dictionary<(Module, string), Tensor>
        {
            [(ms[0], "weight")] = Get(c + ".scores.0"),
            [(ms[1], "weight")] = Get(c + ".scores.1"),
        };
        Prune.GlobalUnstructured(ms.Select(m => ((Module)m, "weight")), GlobalPruningMethod.L1Unstructured, 0.4, scores);
        for (int i = 0; i < 3; i++) AssertMask($"{c}.mask.{i}", ms[i]);
    }

    [Fact]
    public void L1AfterCustomMask()
    {
        var m = Prune.CustomFromMask(Holder(Get("custom_then_l1.input")), "weight", Get("custom_then_l1.custom"));
        AssertTensor(Get("custom_then_l1.custom"), m["weight_mask"]!);
        Prune.L1Unstructured(m, "weight", 0.25);
        AssertMask("custom_then_l1.mask", m);
    }

    [Fact]
    public void FixtureHasOnlyCasesThisClassChecks()
    {
        var cases = File.Value.Metadata.Keys.Where(k => k.StartsWith("case.")).Select(k => k["case.".Length..]).Order().ToList();
        Assert.Equal(37, cases.Count);
        var known = new List<string> { "l1_int0", "l1_int1", "l1_float1", "l1_float0.3", "l1_int7", "l1_round0.5", "l1_round0.7", "l1_round0.1",
            "l1_iter", "l1_then_ln", "ln_then_l1", "ln_then_ln", "global_float", "global_int", "global_after_l1", "l1_scores", "ln_scores",
            "global_scores", "custom_then_l1" };
        foreach (var (n, dim) in LnCases().Select(r => ((string)r[0], (int)r[1]))) known.Add($"ln_n{n}_dim{dim}");
        Assert.Equal(known.Order().ToList(), cases);
    }
}
