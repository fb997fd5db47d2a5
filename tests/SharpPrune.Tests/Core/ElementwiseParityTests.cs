namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>Broadcasting arithmetic, scalar ops and where against tests/fixtures/core/elementwise.safetensors.</summary>
public class ElementwiseParityTests
{
    private static CoreFixture Fx => CoreFixture.Get("elementwise.safetensors");

    private static readonly Dictionary<string, Op> Ops = new()
    {
        ["add_3x4_4"] = i => i["a"] + i["b"],
        ["add_same"] = i => i["a"] + i["b"],
        ["sub_3x1_1x4"] = i => i["a"] - i["b"],
        ["sub_scalar_tensor"] = i => i["a"] - i["b"],
        ["mul_2x1x3_1x4x1"] = i => i["a"] * i["b"],
        ["mul_4d_channel"] = i => i["a"] * i["b"],
        ["div_2x3x4_3x1"] = i => i["a"] / i["b"],
        ["div_1_by_2x3"] = i => i["a"] / i["b"],
        ["add_scalar"] = i => i["a"] + 1.5f,
        ["mul_scalar"] = i => i["a"] * -0.75f,
        ["where_3x4_4"] = i => Tensor.Where(i["c"], i["a"], i["b"]),
    };

    public static IEnumerable<object[]> Cases => Ops.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Fx.Check(name, Ops[name]);

    [Fact]
    public void EveryFixtureCaseIsTested() => Fx.AssertCovers(Ops.Keys);
}
