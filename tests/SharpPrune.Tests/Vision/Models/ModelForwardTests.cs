using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Vision.Models;

[Collection("ZooModels")]
public class ModelForwardTests
{
    [Theory]
    [InlineData("lenet5")]
    [InlineData("lenet300")]
    [InlineData("alexnet")]
    [InlineData("vgg11")]
    [InlineData("vgg13")]
    [InlineData("vgg16")]
    [InlineData("vgg19")]
    [InlineData("resnet20")]
    [InlineData("resnet32")]
    [InlineData("resnet44")]
    [InlineData("resnet56")]
    [InlineData("resnet110")]
    [InlineData("preresnet110")]
    public void ForwardGivesOneLogitRowPerSample(string name)
    {
        var m = ZooModels.Get(name);
        var shape = ModelZoo.InputShape(name);
        var x = Tensor.Randn(new Generator(21), 2, shape[0], shape[1], shape[2]);
        Tensor y;
        using (GradMode.NoGrad()) y = m.Forward(x);
        Assert.Equal(new[] { 2, 10 }, y.ShapeCopy());
        Assert.All(y.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void WrongInputShapeNamesTheProblem()
    {
        var m = ModelZoo.Create("lenet5", generator: new Generator(22));
        var ex = Assert.ThrowsAny<ArgumentException>(() => m.Forward(Tensor.Zeros(2, 3, 28, 28)));
        Assert.Contains("channels", ex.Message);
    }

    [Fact]
    public void ResidualBlocksRunSubmoduleHooks()
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(23));
        int calls = 0;
        m.GetSubmodule("layer2.0.conv1").RegisterForwardHook((_, _, _) => { calls++; return null; });
        // Pre-hooks deep inside a block run as well (pruning relies on them).
        m.GetSubmodule("layer3.2.conv2").RegisterForwardPreHook((_, x) => { calls += 10; return null; });
        using (GradMode.NoGrad()) m.Forward(Tensor.Zeros(1, 3, 32, 32));
        Assert.Equal(11, calls);
    }

    [Fact]
    public void ReplacedSubmoduleIsUsedByTheBlock()
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(24));
        m.Eval();
        var x = Tensor.Randn(new Generator(25), 1, 3, 32, 32);
        Tensor before, after;
        using (GradMode.NoGrad()) before = m.Forward(x);
        ((Module)m.GetSubmodule("layer1.0")).RegisterModule("conv2", new Conv2d(16, 16, 3, padding: 1, bias: false, generator: new Generator(26)));
        using (GradMode.NoGrad()) after = m.Forward(x);
        Assert.False(before.AllClose(after));
    }

    [Theory]
    [InlineData(null, 32)]   // automatic: ResNet's 16-64-channel convs run on the direct kernel (residual in its store)
    [InlineData(false, 32)]  // im2col-GEMM path: residual added per chunk
    [InlineData(null, 40)]   // 40/20/10 maps: the direct forward's compact layout, staged groups, residual gathered
    public void FusedResidualBlockInferenceGivesExactlyTheSeparateOps(bool? direct, int size)
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(27));
        var g = new Generator(28);
        // Non-trivial running statistics and affine parameters, so the fused affine, residual add and ReLU all matter.
        foreach (var (name, t) in m.NamedBuffers().Concat(m.NamedParameters()))
            if (name.Contains("running_var")) t.Data.Fill(0.6f);
            else if (name.Contains("running_mean") || (name.Contains("bn") && (name.EndsWith("weight") || name.EndsWith("bias"))))
                Tensor.Randn(g, t.Numel).Data.CopyTo(t.Data);
        m.Eval();
        var x = Tensor.Randn(new Generator(29), 3, 3, size, size);
        SharpPrune.Kernels.DirectConv.Force = direct;
        try
        {
            SharpPrune.Tests.Kernels.KernelTestUtil.ForEachIsa(_ =>
            {
                // A hook on every module stops every fusion: module by module, the add and ReLU as ops.
                var hooks = m.NamedModules().Select(p => p.Module.RegisterForwardHook((_, _, _) => null)).ToList();
                float[] expected;
                using (GradMode.NoGrad()) expected = m.Forward(x).ToArray();
                foreach (var h in hooks) h.Dispose();
                using var noGrad = GradMode.NoGrad();
                Assert.Equal(expected, m.Forward(x).ToArray());
            });
        }
        finally { SharpPrune.Kernels.DirectConv.Force = null; }
    }

    [Fact]
    public void AHookOnTheSecondBatchNormStopsTheResidualFusionAndSeesItsOwnOutput()
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(30));
        m.Eval();
        var seen = new List<float>();
        m.GetSubmodule("layer2.0.bn2").RegisterForwardHook((_, _, y) => { seen.Add(y.ToArray().Min()); return null; });
        using (GradMode.NoGrad()) m.Forward(Tensor.Randn(new Generator(31), 2, 3, 32, 32));
        Assert.Single(seen);
        Assert.True(seen[0] < 0, "the hook saw the BatchNorm output before the residual add and ReLU");
    }
}
