using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>
/// F.Linear, F.MatMul and F.Conv2d against tests/fixtures/core/{linear,conv}.safetensors. Tolerance 1e-4: the GEMM and
/// convolution kernels sum in a different order from PyTorch's.
/// </summary>
public class LinearConvParityTests
{
    private const double Rtol = 1e-4;
    private static CoreFixture Lin => CoreFixture.Get("linear.safetensors");
    private static CoreFixture Conv => CoreFixture.Get("conv.safetensors");

    private static readonly Dictionary<string, Op> LinearOps = new()
    {
        ["linear_2d"] = i => F.Linear(i["input"], i["weight"], i["bias"]),
        ["linear_3d"] = i => F.Linear(i["input"], i["weight"], i["bias"]),
        ["linear_nobias"] = i => F.Linear(i["input"], i["weight"]),
        ["linear_large"] = i => F.Linear(i["input"], i["weight"], i["bias"]),
        ["matmul"] = i => F.MatMul(i["a"], i["b"]),
        ["matmul_large"] = i => F.MatMul(i["a"], i["b"]),
    };

    private static Tensor? B(IReadOnlyDictionary<string, Tensor> i) => i.TryGetValue("bias", out var b) ? b : null;

    private static readonly Dictionary<string, Op> ConvOps = new()
    {
        ["conv_basic"] = i => F.Conv2d(i["x"], i["weight"], B(i)),
        ["conv_s2_p1"] = i => F.Conv2d(i["x"], i["weight"], B(i), stride: (2, 2), padding: (1, 1)),
        ["conv_d2_p2"] = i => F.Conv2d(i["x"], i["weight"], B(i), padding: (2, 2), dilation: (2, 2)),
        ["conv_g2"] = i => F.Conv2d(i["x"], i["weight"], B(i), groups: 2),
        ["conv_depthwise_p1"] = i => F.Conv2d(i["x"], i["weight"], B(i), padding: (1, 1), groups: 4),
        ["conv_nobias_k3x2_s2x1_p1x0"] = i => F.Conv2d(i["x"], i["weight"], B(i), stride: (2, 1), padding: (1, 0)),
        ["conv_1x1"] = i => F.Conv2d(i["x"], i["weight"], B(i)),
        ["conv_s3_d2_g2_p1"] = i => F.Conv2d(i["x"], i["weight"], B(i), stride: (3, 3), padding: (1, 1), dilation: (2, 2), groups: 2),
        ["conv_big"] = i => F.Conv2d(i["x"], i["weight"], B(i), padding: (1, 1)),
    };

    public static IEnumerable<object[]> LinearCases => LinearOps.Keys.Select(k => new object[] { k });
    public static IEnumerable<object[]> ConvCases => ConvOps.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(LinearCases))]
    public void LinearMatchesPyTorch(string name) => Lin.Check(name, LinearOps[name], Rtol);

    [Theory, MemberData(nameof(ConvCases))]
    public void Conv2dMatchesPyTorch(string name) => Conv.Check(name, ConvOps[name], Rtol);

    [Fact]
    public void EveryFixtureCaseIsTested()
    {
        Lin.AssertCovers(LinearOps.Keys);
        Conv.AssertCovers(ConvOps.Keys);
    }
}
