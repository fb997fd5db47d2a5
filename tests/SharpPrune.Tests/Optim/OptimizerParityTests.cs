using System.Text.Json;
using SharpPrune.IO;
using SharpPrune.Optim;
using Xunit.Sdk;

namespace SharpPrune.Tests.Optim;

/// <summary>Five steps of each optimizer against torch 1.13 (scripts/make_optim_fixtures.py).</summary>
public class OptimizerParityTests
{
    private static readonly Lazy<SafeTensorsFile> Cases = new(() => Fixtures.Load("optim", "optim_cases.safetensors"));
    private const int Steps = 5;

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (var k in Cases.Value.Metadata.Keys.Where(k => k.StartsWith("case.")).Order()) data.Add(k["case.".Length..]);
        return data;
    }

    /// <summary>Builds the optimizer the fixture describes; absent arguments take PyTorch's defaults.</summary>
    internal static Optimizer Build(string caseName, IEnumerable<Tensor> ps)
    {
        using var doc = JsonDocument.Parse(Cases.Value.Metadata["case." + caseName]);
        var c = doc.RootElement;
        double D(string k, double def) => c.TryGetProperty(k, out var v) ? v.GetDouble() : def;
        bool B(string k) => c.TryGetProperty(k, out var v) && v.GetBoolean();
        double lr = c.GetProperty("lr").GetDouble();
        return c.GetProperty("type").GetString() switch
        {
            "SGD" => new SGD(ps, lr, D("momentum", 0), D("dampening", 0), D("weight_decay", 0), B("nesterov")),
            "Adam" => new Adam(ps, lr, D("beta1", 0.9), D("beta2", 0.999), D("eps", 1e-8), D("weight_decay", 0), B("amsgrad")),
            "AdamW" => new AdamW(ps, lr, D("beta1", 0.9), D("beta2", 0.999), D("eps", 1e-8), D("weight_decay", 1e-2), B("amsgrad")),
            var t => throw new InvalidOperationException($"unknown optimizer type {t} in fixture"),
        };
    }

    internal static Tensor[] InitialParams()
    {
        var list = new List<Tensor>();
        for (int i = 0; Cases.Value.TryGet($"param.{i}", out var t); i++) list.Add(t.Clone().RequiresGrad_());
        return list.ToArray();
    }

    /// <summary>Sets each parameter's gradient for a step (null where PyTorch had None).</summary>
    internal static void SetGrads(Tensor[] ps, int step)
    {
        for (int i = 0; i < ps.Length; i++)
            ps[i].Grad = Cases.Value.TryGet($"grad.{step}.{i}", out var g) ? g.Clone() : null;
    }

    /// <summary>|a − e| ≤ 1e-6·|e| + 1e-7: relative, with a floor for elements that cancel to ~0.</summary>
    internal static void AssertClose(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.Data; var a = actual.Data;
        for (int i = 0; i < e.Length; i++)
            if (!(Math.Abs(a[i] - (double)e[i]) <= 1e-6 * Math.Abs(e[i]) + 1e-7))
                throw new XunitException($"{what}[{i}]: {a[i]:R} vs torch {e[i]:R} (diff {Math.Abs(a[i] - (double)e[i]):E2})");
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void MatchesTorchStepByStepAndFinalState(string caseName)
    {
        var ps = InitialParams();
        var storages = ps.Select(p => p.Data.ToArray()).ToArray(); // only to detect the first write below
        var views = ps.Select(p => p.View(p.Numel)).ToArray();       // share storage with the parameters
        var opt = Build(caseName, ps);
        for (int step = 1; step <= Steps; step++)
        {
            SetGrads(ps, step);
            int[] versions = ps.Select(p => p.Version).ToArray();
            opt.Step();
            for (int i = 0; i < ps.Length; i++)
            {
                AssertClose(Cases.Value.Get($"{caseName}/param.{step}.{i}"), ps[i], $"{caseName} step {step} param {i}");
                bool updated = ps[i].Grad != null;
                Assert.Equal(updated ? versions[i] + 1 : versions[i], ps[i].Version);
            }
        }
        Assert.Equal(Steps, opt.StepCount);
        // The update wrote into the parameters' own storage: views taken before training see it.
        for (int i = 0; i < ps.Length; i++) Assert.Equal(ps[i].ToArray(), views[i].ToArray());
        Assert.NotEqual(storages[0], ps[0].ToArray());

        var prefix = $"{caseName}/state.";
        var expected = Cases.Value.Tensors.Where(kv => kv.Key.StartsWith(prefix)).ToDictionary(kv => kv.Key[prefix.Length..], kv => kv.Value);
        var actual = opt.StateTensors().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        foreach (var (k, t) in expected) AssertClose(t, actual[k], $"{caseName} state {k}");
    }

    [Fact]
    public void FixtureCoversTheRequiredVariants()
    {
        var names = Cases.Value.Metadata.Keys.Where(k => k.StartsWith("case.")).Select(k => k["case.".Length..]).ToHashSet();
        Assert.Superset(new HashSet<string> { "sgd_plain", "sgd_momentum_wd", "sgd_nesterov", "sgd_dampening", "adam", "adam_wd_amsgrad", "adamw", "adamw_amsgrad" }, names);
        // Parameter 2 has no gradient at step 3, so its Adam step count lags (PyTorch keeps steps per parameter).
        Assert.False(Cases.Value.TryGet("grad.3.2", out _));
        Assert.Equal(4f, Cases.Value.Get("adam/state.2.step").Item());
    }
}
