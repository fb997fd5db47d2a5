namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>Sort/topk/kthvalue values, indices and gradients (inputs without ties) against tests/fixtures/core/sorting.safetensors.</summary>
public class SortingParityTests
{
    private static CoreFixture Fx => CoreFixture.Get("sorting.safetensors");

    private static readonly Dictionary<string, Op> Ops = new()
    {
        ["sort_-1"] = i => i["x"].Sort(-1),
        ["sort_0_desc"] = i => i["x"].Sort(0, descending: true),
        ["sort_3d_1"] = i => i["x"].Sort(1),
        ["topk_3_-1"] = i => i["x"].TopK(3, -1),
        ["topk_2_0_smallest"] = i => i["x"].TopK(2, 0, largest: false),
        ["topk_2_0_3d"] = i => i["x"].TopK(2, 0),
        ["kthvalue_2_-1"] = i => i["x"].KthValue(2, -1),
        ["kthvalue_3_0_keep"] = i => i["x"].KthValue(3, 0, keepDim: true),
        ["kthvalue_2_1_3d"] = i => i["x"].KthValue(2, 1),
        ["kthvalue_0d"] = i => i["x"].KthValue(1, 0),
    };

    public static IEnumerable<object[]> Cases => Ops.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Fx.Check(name, Ops[name]);

    [Fact]
    public void EveryFixtureCaseIsTested() => Fx.AssertCovers(Ops.Keys);
}
