using System.Globalization;
using SharpPrune.NN;
using SharpPrune.Optim;

namespace SharpPrune.Tests.Core;

/// <summary>
/// End to end: a tiny conv net trained for a few SGD steps (momentum, weight decay) from PyTorch's initial weights on
/// PyTorch's batch ends at PyTorch's weights (tests/fixtures/core/train_sgd.safetensors). 1e-4: every step sums in a
/// different order, and the differences compound over the steps.
/// </summary>
public class TrainParityTests
{
    private const double Rtol = 1e-4;
    private static CoreFixture Fx => CoreFixture.Get("train_sgd.safetensors");
    private static double Meta(string key) => double.Parse(Fx.Metadata[key], CultureInfo.InvariantCulture);

    private static List<KeyValuePair<string, Tensor>> Weights(string prefix) =>
        Fixtures.Load("core", "train_sgd.safetensors").Tensors
            .Where(kv => kv.Key.StartsWith(prefix, StringComparison.Ordinal))
            .Select(kv => new KeyValuePair<string, Tensor>(kv.Key[prefix.Length..], kv.Value.Clone()))
            .ToList();

    [Fact]
    public void FiveSgdStepsMatchPyTorch()
    {
        var net = new Sequential(new Conv2d(1, 4, 3), new ReLU(), new MaxPool2d(2), new Flatten(), new Linear(4 * 3 * 3, 10));
        net.LoadStateDict(Weights("initial."));
        var x = Fx["batch.x"];
        var y = Fx.Ints("batch.y");
        var opt = new SGD(net.Parameters(), Meta("lr"), momentum: Meta("momentum"), weightDecay: Meta("weight_decay"));

        int steps = (int)Meta("steps");
        var losses = new float[steps];
        for (int s = 0; s < steps; s++)
        {
            opt.ZeroGrad();
            var loss = F.CrossEntropy(net.Forward(x), y);
            loss.Backward();
            opt.Step();
            losses[s] = loss.Item();
        }

        TensorAssert.Close(Fx["losses"], new Tensor(losses, steps), Rtol, "per-step losses");
        Assert.True(losses[^1] < losses[0], "the loss went down"); // guards against a fixture of a no-op run
        var final = net.StateDict().ToDictionary(kv => kv.Key, kv => kv.Value);
        var expected = Weights("final.");
        Assert.Equal(expected.Select(kv => kv.Key), final.Keys);
        foreach (var (k, v) in expected) TensorAssert.Close(v, final[k], Rtol, $"final {k}");
    }
}
