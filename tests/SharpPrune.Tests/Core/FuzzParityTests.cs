namespace SharpPrune.Tests.Core;

/// <summary>
/// Random shapes (tests/fixtures/core/fuzz.safetensors) for the index arithmetic of broadcasting, permute,
/// reductions and concat. The op and its arguments are in the case name, e.g. "sum_07_d0_2_keep" or
/// "permute_03_1_4_3_0_2" (see fuzz() in scripts/make_core_fixtures.py).
/// </summary>
public class FuzzParityTests
{
    private static CoreFixture Fx => CoreFixture.Get("fuzz.safetensors");

    public static IEnumerable<object[]> Cases => Fx.Cases.Order().Select(c => new object[] { c });

    private static int[] Ints(IEnumerable<string> parts) => parts.Select(int.Parse).ToArray();

    private static Func<IReadOnlyDictionary<string, Tensor>, Outs> OpFor(string name)
    {
        var p = name.Split('_');
        // d<dims...>: the first dim carries the 'd' prefix
        int[] Dims() => Ints(p.Skip(2).Take(p.Length - 3).Select((s, k) => k == 0 ? s[1..] : s));
        bool keep = p[^1] == "keep";
        return p[0] switch
        {
            "bcast" => p[1] switch
            {
                "add" => i => i["a"] + i["b"],
                "sub" => i => i["a"] - i["b"],
                "mul" => i => i["a"] * i["b"],
                "div" => i => i["a"] / i["b"],
                _ => throw new InvalidOperationException($"unknown op in {name}"),
            },
            "permute" => i => i["x"].Permute(Ints(p.Skip(2))),
            "sum" => i => i["x"].Sum(Dims(), keep),
            "mean" => i => i["x"].Mean(Dims(), keep),
            "max" => i => i["x"].Max(Dims().Single(), keep),
            "min" => i => i["x"].Min(Dims().Single(), keep),
            "cat" => i => Tensor.Concat(new[] { i["a"], i["b"], i["c"] }, int.Parse(p[2][1..])),
            _ => throw new InvalidOperationException($"no op for fixture case {name}"),
        };
    }

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Fx.Check(name, OpFor(name));

    [Fact]
    public void FixtureHasEveryKind()
    {
        var kinds = Fx.Cases.Select(c => c.Split('_')[0] == "bcast" ? "bcast_" + c.Split('_')[1] : c.Split('_')[0]).ToHashSet();
        var required = new HashSet<string> { "bcast_add", "bcast_sub", "bcast_mul", "bcast_div", "permute", "sum", "mean", "max", "min", "cat" };
        Assert.Superset(required, kinds); // (expected subset, actual)
    }
}
