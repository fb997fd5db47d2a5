namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>Sum/mean, max/min along a dim and p-norms against tests/fixtures/core/reductions.safetensors.</summary>
public class ReductionParityTests
{
    private static CoreFixture Fx => CoreFixture.Get("reductions.safetensors");

    private static readonly Dictionary<string, Op> Ops = Build();

    private static Dictionary<string, Op> Build()
    {
        var ops = new Dictionary<string, Op>
        {
            ["sum_all"] = i => i["x"].Sum(),
            ["mean_all"] = i => i["x"].Mean(),
            ["sum_1"] = i => i["x"].Sum(1),
            ["sum_-1_keep"] = i => i["x"].Sum(-1, keepDim: true),
            ["sum_0_2"] = i => i["x"].Sum(new[] { 0, 2 }),
            ["sum_0_2_keep"] = i => i["x"].Sum(new[] { 0, 2 }, keepDim: true),
            ["mean_0"] = i => i["x"].Mean(0),
            ["mean_1_2_keep"] = i => i["x"].Mean(new[] { 1, 2 }, keepDim: true),
            ["sum_empty_dims"] = i => i["x"].Sum(Array.Empty<int>()),
            ["mean_empty_dims_keep"] = i => i["x"].Mean(Array.Empty<int>(), keepDim: true),
            ["norm_2_empty_dims_1d"] = i => i["x"].Norm(2, Array.Empty<int>()),
            ["sum_0d_dim0"] = i => i["x"].Sum(0),
            ["mean_0d_dim-1_keep"] = i => i["x"].Mean(-1, keepDim: true),
            ["max_0d_dim0"] = i => i["x"].Max(0),
            ["min_0d_dim-1_keep"] = i => i["x"].Min(-1, keepDim: true),
        };
        foreach (int dim in new[] { 0, 1, 2 })
            foreach (bool keep in new[] { false, true })
            {
                string s = dim + (keep ? "_keep" : "");
                ops[$"max_{s}"] = i => i["x"].Max(dim, keep);
                ops[$"min_{s}"] = i => i["x"].Min(dim, keep);
            }
        var orders = new (string Name, double P)[]
        {
            ("1", 1), ("2", 2), ("3", 3), ("inf", double.PositiveInfinity), ("-inf", double.NegativeInfinity), ("0", 0),
        };
        foreach (var (name, p) in orders)
        {
            ops[$"norm_{name}_all"] = i => Tensor.Scalar(i["x"].Norm(p));
            ops[$"norm_{name}_dim1"] = i => i["x"].Norm(p, new[] { 1 });
            ops[$"norm_{name}_dim0_2_keep"] = i => i["x"].Norm(p, new[] { 0, 2 }, keepDim: true);
            ops[$"norm_{name}_dim1_2"] = i => i["x"].Norm(p, new[] { 1, 2 });
        }
        return ops;
    }

    public static IEnumerable<object[]> Cases => Ops.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Fx.Check(name, Ops[name]);

    [Fact]
    public void EveryFixtureCaseIsTested() => Fx.AssertCovers(Ops.Keys);
}
