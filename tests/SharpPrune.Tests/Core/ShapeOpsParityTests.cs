namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>View/permute/slice/index_select/cat/stack and their backwards against tests/fixtures/core/shape.safetensors.</summary>
public class ShapeOpsParityTests
{
    private static CoreFixture Fx => CoreFixture.Get("shape.safetensors");

    private static readonly Dictionary<string, Op> Ops = new()
    {
        ["view_6x4"] = i => i["x"].View(6, 4),
        ["view_-1x2"] = i => i["x"].View(-1, 2),
        ["flatten_1"] = i => i["x"].Flatten(1),
        ["unsqueeze_1"] = i => i["x"].Unsqueeze(1),
        ["squeeze_1_keeps_size3"] = i => i["x"].Squeeze(1),
        ["squeeze_-2"] = i => i["x"].Squeeze(-2),
        ["squeeze_0d"] = i => i["x"].Squeeze(0),
        ["permute_2_0_1"] = i => i["x"].Permute(2, 0, 1),
        ["permute_4d_0_2_3_1"] = i => i["x"].Permute(0, 2, 3, 1),
        ["transpose_0_2"] = i => i["x"].Transpose(0, 2),
        ["t"] = i => i["x"].T(),
        ["narrow_0_1_1"] = i => i["x"].Slice(0, 1, 2),
        ["narrow_1_1_2"] = i => i["x"].Slice(1, 1, 3),
        ["slice_2_-3_-1"] = i => i["x"].Slice(2, -3, -1),
        ["select_1_2"] = i => i["x"].Select(1, 2),
        ["select_-1_-1"] = i => i["x"].Select(-1, -1),
        ["index_select_1_2_0_2"] = i => i["x"].IndexSelect(1, new[] { 2, 0, 2 }),
        ["index_select_0_1"] = i => i["x"].IndexSelect(0, new[] { 1 }),
        ["cat_0"] = i => Tensor.Concat(new[] { i["a"], i["b"] }, 0),
        ["cat_1_three"] = i => Tensor.Concat(new[] { i["a"], i["b"], i["c"] }, 1),
        ["cat_-1"] = i => Tensor.Concat(new[] { i["a"], i["b"] }, -1),
        ["stack_0"] = i => Tensor.Stack(new[] { i["a"], i["b"] }, 0),
        ["stack_2"] = i => Tensor.Stack(new[] { i["a"], i["b"], i["c"] }, 2),
        ["stack_-1"] = i => Tensor.Stack(new[] { i["a"], i["b"] }, -1),
    };

    public static IEnumerable<object[]> Cases => Ops.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Fx.Check(name, Ops[name]);

    [Fact]
    public void EveryFixtureCaseIsTested() => Fx.AssertCovers(Ops.Keys);
}
