using System.Globalization;
using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

/// <summary>
/// Initialisers follow torch.nn.init's formulas: bounds and standard deviations computed by PyTorch
/// (tests/fixtures/core/init.safetensors metadata) against the spread of our samples. The random streams differ
/// from PyTorch's, so the checks are on the distribution: a uniform sample never exceeds its bound and comes within
/// 5% of it (thousands of draws: missing it has probability below 1e-20), a normal sample's standard deviation is
/// within 3% (≥ 6 standard errors for ≥ 18k draws). All seeds are fixed, so nothing here is flaky.
/// </summary>
public class InitTests
{
    private static double Expected(string key) =>
        double.Parse(CoreFixture.Get("init.safetensors").Metadata[key], CultureInfo.InvariantCulture);

    private static void UniformWithin(Tensor t, double bound, string what)
    {
        double max = t.ToArray().Max(v => Math.Abs((double)v));
        Assert.True(max <= bound * (1 + 1e-6), $"{what}: max |w| {max} exceeds PyTorch's bound {bound}");
        Assert.True(max >= bound * 0.95, $"{what}: max |w| {max} is well inside PyTorch's bound {bound} (wrong formula?)");
        Assert.True(Math.Abs(t.ToArray().Average(v => (double)v)) < bound * 0.1, $"{what}: not centred on 0");
    }

    private static void NormalStd(Tensor t, double std, string what)
    {
        var d = t.ToArray();
        double mean = d.Average(v => (double)v);
        double s = Math.Sqrt(d.Sum(v => (v - mean) * (v - mean)) / d.Length);
        Assert.True(Math.Abs(s / std - 1) < 0.03, $"{what}: sample std {s}, PyTorch's std {std}");
        Assert.True(Math.Abs(mean) < std * 0.05, $"{what}: mean {mean} is not near 0");
    }

    [Fact]
    public void LayerDefaultsUsePyTorchBounds()
    {
        var lin = new Linear(50, 20, generator: new Generator(1));
        UniformWithin(lin.Weight, Expected("linear.weight_bound"), "Linear weight");
        UniformWithin(lin.Bias!, Expected("linear.bias_bound"), "Linear bias");
        var conv = new Conv2d(6, 16, 5, groups: 2, generator: new Generator(2));
        UniformWithin(conv.Weight, Expected("conv.weight_bound"), "Conv2d weight");
        // 16 biases are too few for the 5% closeness check; the bound itself must hold.
        Assert.All(conv.Bias!.ToArray(), v => Assert.True(Math.Abs(v) <= Expected("conv.bias_bound") * (1 + 1e-6)));
    }

    [Fact]
    public void InitialisersUsePyTorchFormulas()
    {
        UniformWithin(Init.KaimingUniform_(Tensor.Zeros(128, 256), a: 0, g: new Generator(3)), Expected("kaiming_uniform_fan_in_leaky0.bound"), "kaiming_uniform_");
        NormalStd(Init.KaimingNormal_(Tensor.Zeros(64, 32, 3, 3), fanIn: false, nonlinearity: "relu", g: new Generator(4)), Expected("kaiming_normal_fan_out_relu.std"), "kaiming_normal_ fan_out relu");
        NormalStd(Init.KaimingNormal_(Tensor.Zeros(300, 400), nonlinearity: "tanh", g: new Generator(5)), Expected("kaiming_normal_fan_in_tanh.std"), "kaiming_normal_ tanh");
        UniformWithin(Init.XavierUniform_(Tensor.Zeros(100, 200), g: new Generator(6)), Expected("xavier_uniform.bound"), "xavier_uniform_");
        UniformWithin(Init.XavierUniform_(Tensor.Zeros(50, 30, 3, 3), gain: Init.Gain("relu"), g: new Generator(7)), Expected("xavier_uniform_gain_relu.bound"), "xavier_uniform_ gain relu");
    }

    [Fact]
    public void FansNeedTwoDims()
    {
        var ex = Assert.Throws<ArgumentException>(() => Init.Fans(Tensor.Zeros(5)));
        Assert.Contains("(5,)", ex.Message);
        Assert.Throws<ArgumentException>(() => Init.Gain("swish"));
    }
}
