using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Vision.Models;

[Collection("ZooModels")]
public class SummaryAndFlopsTests
{
    [Fact]
    public void LeNet5SummaryHasTorchsummaryRowsAndTotals()
    {
        var s = ModelSummary.Run(ModelZoo.Create("lenet5", generator: new Generator(41)), new[] { 1, 28, 28 });
        Assert.Equal(12, s.Rows.Count);
        Assert.Equal(new[] { "Conv2d-1", "ReLU-2", "MaxPool2d-3", "Conv2d-4", "ReLU-5", "MaxPool2d-6", "Flatten-7",
            "Linear-8", "ReLU-9", "Linear-10", "ReLU-11", "Linear-12" }, s.Rows.Select(r => r.Layer));
        Assert.Equal(new[] { -1, 6, 24, 24 }, s.Rows[0].OutputShape);
        Assert.Equal(new[] { -1, 16, 4, 4 }, s.Rows[5].OutputShape);
        Assert.Equal("fc1", s.Rows[7].Name);
        // conv1: 6·1·5·5 + 6; conv2: 16·6·5·5 + 16; fc: 256·120+120, 120·84+84, 84·10+10.
        Assert.Equal(new long[] { 156, 0, 0, 2416, 0, 0, 0, 30840, 0, 10164, 0, 850 }, s.Rows.Select(r => r.Params));
        Assert.Equal(44_426, s.TotalParams);
        Assert.Equal(44_426, s.TrainableParams);

        var lines = s.Format().Split('\n');
        Assert.Equal(new string('-', 64), lines[0]);
        Assert.Equal("        Layer (type)               Output Shape         Param #", lines[1]);
        Assert.Equal(new string('=', 64), lines[2]);
        Assert.Equal("            Conv2d-1            [-1, 6, 24, 24]             156", lines[3]);
        Assert.Equal("            Linear-8                  [-1, 120]          30,840", lines[10]);
        // Output elements per sample: 3456·2 + 864 + 1024·2 + 256·2 + 120·2 + 84·2 + 10 = 10,754;
        // ×2 (grads) ×4 bytes = 0.082 MB; params 44,426·4 B = 0.169 MB; input 784·4 B = 0.003 MB.
        Assert.Equal(new[]
        {
            new string('=', 64),
            "Total params: 44,426",
            "Trainable params: 44,426",
            "Non-trainable params: 0",
            new string('-', 64),
            "Input size (MB): 0.00",
            "Forward/backward pass size (MB): 0.08",
            "Params size (MB): 0.17",
            "Estimated Total Size (MB): 0.25",
            new string('-', 64),
            "",
        }, lines[15..]);
    }

    [Fact]
    public void SummaryLeavesModesAndRunningStatsAlone()
    {
        var m = ModelZoo.Create("resnet20", generator: new Generator(42));
        m.GetSubmodule("layer2").Eval();
        var s = ModelSummary.Run(m, new[] { 3, 32, 32 });
        Assert.Equal(269_722, s.TotalParams);
        Assert.True(m.Training);
        Assert.False(m.GetSubmodule("layer2.0.bn1").Training);
        Assert.True(m.GetSubmodule("layer3.0.bn1").Training);
        var bn = (BatchNorm2d)m.GetSubmodule("bn1");
        Assert.Equal(0f, bn.NumBatchesTracked!.Item());
        Assert.Equal(0f, bn.RunningMean!.Abs().Sum().Item());
        // Shared ReLUs get one row per call, as torchsummary's hooks do; the block containers get none.
        Assert.DoesNotContain(s.Rows, r => r.TypeName == "BasicBlock");
        Assert.Equal(1 + 9 * 2, s.Rows.Count(r => r.TypeName == "ReLU"));
        Assert.Equal(2, s.Rows.Count(r => r.TypeName == "PadShortcut"));
        Assert.Equal(new[] { -1, 10 }, s.Rows[^1].OutputShape);
    }

    // Dense MACs are what scripts/model_param_counts.py measures with hooks in PyTorch.
    [Theory]
    [InlineData("lenet5", 281_640)]
    [InlineData("lenet300", 266_200)]
    [InlineData("alexnet", 32_821_248)]
    [InlineData("vgg16", 313_463_808)]
    [InlineData("resnet56", 125_485_696)]
    [InlineData("preresnet110", 167_430_656)]
    public void DenseMacsMatchPyTorchHooks(string name, long macs)
    {
        var r = Flops.Count(ZooModels.Get(name), ModelZoo.InputShape(name));
        Assert.Equal(macs, r.TotalMacs);
        Assert.Equal(2 * macs, r.TotalFlops);
    }

    [Fact]
    public void SparseMacsCountOnlyNonZeroWeights()
    {
        var m = ModelZoo.Create("lenet5", generator: new Generator(44));
        var dense = Flops.Count(m, new[] { 1, 28, 28 });
        Assert.Equal(new long[] { 150 * 576, 2400 * 64, 30720, 10080, 840 }, dense.Layers.Select(l => l.Macs));
        Assert.Equal(new[] { "conv1", "conv2", "fc1", "fc2", "fc3" }, dense.Layers.Select(l => l.Name));

        // Zero 50 weights of conv2 (output 8×8) and 1000 of fc1.
        var w2 = m.GetSubmodule("conv2")["weight"]!; w2.Data[..50].Clear();
        var w3 = m.GetSubmodule("fc1")["weight"]!; w3.Data[1000..2000].Clear();
        var sparse = Flops.Count(m, new[] { 1, 28, 28 }, countZeros: false);
        Assert.Equal(dense.TotalMacs - 50 * 64 - 1000, sparse.TotalMacs);
        Assert.Equal(2350, sparse.Layers[1].Weights);
        Assert.Equal(dense.TotalMacs, Flops.Count(m, new[] { 1, 28, 28 }).TotalMacs);
    }
}
