using SharpPrune.NN;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Training;

public class BatchNormL1Tests
{
    private static Module Net(out BatchNorm2d bn)
    {
        var g = new Generator(5);
        bn = new BatchNorm2d(4);
        Init.Uniform_(bn.Weight!, -1f, 1f, g); // both signs, so sign(γ) matters
        return new Sequential(new Conv2d(1, 4, 3, generator: g), bn, new ReLU(), new Flatten(), new Linear(4 * 26 * 26, 10, generator: g));
    }

    [Fact]
    public void BnL1AddsLambdaSignGammaToTheScaleGradientAndNothingElse()
    {
        // One plain SGD step (no momentum, no weight decay): γ' = γ − lr·(∂L/∂γ + λ·sign γ).
        var config = TrainingData.Config(epochs: 1, schedule: "none") with { Momentum = 0, WeightDecay = 0, LimitTrain = 32 };
        var plain = Net(out var bnPlain);
        var slim = Net(out var bnSlim);
        var gamma0 = bnPlain.Weight!.ToArray();
        new Trainer(plain, config, TrainingData.Train, TrainingData.Test, TrainingData.TempDir()).Run();
        new Trainer(slim, config with { BnL1 = 0.01 }, TrainingData.Train, TrainingData.Test, TrainingData.TempDir()).Run();

        var a = bnPlain.Weight!.ToArray(); var b = bnSlim.Weight!.ToArray();
        for (int i = 0; i < a.Length; i++)
            Assert.Equal(a[i] - (float)(config.Lr * 0.01) * MathF.Sign(gamma0[i]), b[i], 1e-6f);
        Assert.Equal(bnPlain.Bias!.ToArray(), bnSlim.Bias!.ToArray());
        Assert.Equal(plain.StateDict()[0].Value.ToArray(), slim.StateDict()[0].Value.ToArray());
    }

    [Fact]
    public void BnL1MustBeNonNegative()
    {
        var e = Assert.Throws<ArgumentException>(() => (TrainingData.Config(1) with { BnL1 = -1 }).Validate());
        Assert.Contains("bn-l1", e.Message);
    }
}
