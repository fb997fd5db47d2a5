namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>Element-wise unary ops and their derivatives against tests/fixtures/core/unary.safetensors.</summary>
public class UnaryParityTests
{
    private static CoreFixture Fx => CoreFixture.Get("unary.safetensors");

    private static readonly Dictionary<string, Op> Ops = new()
    {
        ["neg"] = i => i["x"].Neg(),
        ["exp"] = i => i["x"].Exp(),
        ["log"] = i => i["x"].Log(),
        ["sqrt"] = i => i["x"].Sqrt(),
        ["abs"] = i => i["x"].Abs(),
        ["pow_2"] = i => i["x"].Pow(2),
        ["pow_3"] = i => i["x"].Pow(3),
        ["pow_0.5"] = i => i["x"].Pow(0.5f),
        ["pow_-1.5"] = i => i["x"].Pow(-1.5f),
        ["pow_0_at_zero"] = i => i["x"].Pow(0),
        ["relu"] = i => i["x"].Relu(),
        ["sigmoid"] = i => i["x"].Sigmoid(),
        ["tanh"] = i => i["x"].Tanh(),
        ["clamp_-0.5_0.7"] = i => i["x"].Clamp(-0.5f, 0.7f),
        ["clamp_min_0.3"] = i => i["x"].Clamp(min: 0.3f),
        ["clamp_max_-0.2"] = i => i["x"].Clamp(max: -0.2f),
    };

    public static IEnumerable<object[]> Cases => Ops.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Fx.Check(name, Ops[name]);

    [Fact]
    public void EveryFixtureCaseIsTested() => Fx.AssertCovers(Ops.Keys);
}
