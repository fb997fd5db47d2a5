using Xunit.Sdk;

namespace SharpPrune.Tests.Core;

/// <summary>The comparison helpers must be able to fail: a wrong output, a wrong gradient, a missing output.</summary>
public class HarnessTests
{
    private static CoreFixture Fx => CoreFixture.Get("unary.safetensors");

    [Fact]
    public void WrongOutputFailsWithIndexAndValues()
    {
        var ex = Assert.Throws<XunitException>(() => Fx.Check("neg", i => i["x"]));
        Assert.Contains("unary.safetensors/neg output", ex.Message);
        Assert.Contains("worst at index [", ex.Message);
    }

    [Fact]
    public void WrongGradientWithRightOutputFails()
    {
        // value −x, but the gradient is +1 instead of −1
        var ex = Assert.Throws<XunitException>(() => Fx.Check("neg", i => i["x"].Detach().MulScalar(-2) + i["x"]));
        Assert.Contains("grad of x", ex.Message);
    }

    [Fact]
    public void MissingOrExtraOutputsFail()
    {
        Assert.Throws<XunitException>(() => Fx.Check("neg", i => new Outs { ["values"] = i["x"].Neg() }));
        Assert.Throws<XunitException>(() => Fx.Check("no_such_case", i => i["x"]));
    }

    [Fact]
    public void CloseUsesAbsolutePlusRelativeBound()
    {
        var e = new Tensor(new float[] { 1000f, 0f }, 2);
        TensorAssert.Close(e, new Tensor(new float[] { 1000.009f, 0.000009f }, 2), 1e-5, "within");
        Assert.Throws<XunitException>(() => TensorAssert.Close(e, new Tensor(new float[] { 1000.02f, 0f }, 2), 1e-5, "relative"));
        Assert.Throws<XunitException>(() => TensorAssert.Close(e, new Tensor(new float[] { 1000f, 0.00002f }, 2), 1e-5, "absolute"));
        Assert.Throws<XunitException>(() => TensorAssert.Close(e, new Tensor(new float[] { 1000f, float.NaN }, 2), 1e-5, "nan"));
        Assert.Throws<XunitException>(() => TensorAssert.Close(e, new Tensor(new float[] { 1000f }, 1), 1e-5, "shape"));
    }
}
