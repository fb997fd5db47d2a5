using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Vision.Models;

/// <summary>A few plain SGD steps on one fixed random batch must lower its loss: gradients reach every layer.</summary>
[Collection("ZooModels")]
public class ModelTrainingTests
{
    [Theory]
    [InlineData("lenet5", 8, 0.05f, 3)]
    [InlineData("lenet300", 8, 0.05f, 3)]
    [InlineData("alexnet", 4, 0.01f, 2)]
    [InlineData("vgg11", 4, 0.02f, 2)]
    [InlineData("resnet20", 8, 0.05f, 3)]
    [InlineData("preresnet110", 4, 0.05f, 1)]
    public void SgdStepsLowerTheLossOnAFixedBatch(string name, int batch, float lr, int updates)
    {
        var g = new Generator(31);
        var m = ModelZoo.Create(name, generator: g);
        var s = ModelZoo.InputShape(name);
        var x = Tensor.Randn(g, batch, s[0], s[1], s[2]);
        var y = Enumerable.Range(0, batch).Select(i => i % 10).ToArray();
        // Dropout off (AlexNet) so the loss before and after is measured on the same function;
        // batch norm stays in training mode (batch statistics) throughout.
        foreach (var d in m.Modules().OfType<Dropout>()) d.Eval();

        // `updates` SGD steps; the loss of the forward after the last update is compared with the first one.
        var losses = new List<float>();
        for (int step = 0; step <= updates; step++)
        {
            m.ZeroGrad();
            var loss = F.CrossEntropy(m.Forward(x), y);
            losses.Add(loss.Item());
            if (step == updates) break;
            loss.Backward();
            using (GradMode.NoGrad())
                foreach (var p in m.Parameters())
                {
                    Assert.NotNull(p.Grad);
                    System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(p.Grad!.Data, -lr, p.Data, p.Data);
                    p.MarkChanged();
                }
        }
        float first = losses[0], last = losses[^1];
        Assert.True(last < first, $"{name}: loss {first} -> {last}");
    }

    [Fact]
    public void BatchNormRunningStatsMoveInTrainingAndFreezeInEval()
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(32));
        var bn = (BatchNorm2d)m.GetSubmodule("bn1");
        var x = Tensor.Randn(new Generator(33), 4, 3, 32, 32).AddScalar(1f);
        using (GradMode.NoGrad()) m.Forward(x);
        Assert.Equal(1f, bn.NumBatchesTracked!.Item());
        var mean = bn.RunningMean!.Clone();
        Assert.True(mean.Abs().Sum().Item() > 0);
        m.Eval();
        using (GradMode.NoGrad()) m.Forward(x);
        Assert.True(mean.Equal(bn.RunningMean!));
        Assert.Equal(1f, bn.NumBatchesTracked!.Item());
    }
}
