using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>log_softmax, cross-entropy (with label smoothing), nll and mse against tests/fixtures/core/loss.safetensors.</summary>
public class LossParityTests
{
    private static CoreFixture Fx => CoreFixture.Get("loss.safetensors");

    private static int[] Targets(IReadOnlyDictionary<string, Tensor> i) => i["target"].ToArray().Select(v => (int)v).ToArray();

    private static readonly Dictionary<string, Op> Ops = new()
    {
        ["log_softmax"] = i => F.LogSoftmax(i["x"]),
        ["log_softmax_large"] = i => F.LogSoftmax(i["x"]),
        ["cross_entropy"] = i => F.CrossEntropy(i["x"], Targets(i)),
        ["cross_entropy_ls0.1"] = i => F.CrossEntropy(i["x"], Targets(i), labelSmoothing: 0.1f),
        ["cross_entropy_ls0.3_10cls"] = i => F.CrossEntropy(i["x"], Targets(i), labelSmoothing: 0.3f),
        ["nll_loss"] = i => F.NllLoss(i["x"], Targets(i)),
        ["mse"] = i => F.MseLoss(i["input"], i["target"]),
    };

    public static IEnumerable<object[]> Cases => Ops.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(Cases))]
    public void MatchesPyTorch(string name) => Fx.Check(name, Ops[name]);

    [Fact]
    public void EveryFixtureCaseIsTested() => Fx.AssertCovers(Ops.Keys);
}
