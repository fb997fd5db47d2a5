using SharpPrune.NN;
using SharpPrune.Optim;
using SharpPrune.Pruning;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// Fine-tuning a pruned network (seeds 000/003): pruned weights stay exactly zero through training, because
/// gradients reach <c>weight_orig</c> only through the mask, and an optimizer built before pruning keeps
/// updating the same tensors.
/// </summary>
public class PrunedTrainingTests
{
    private sealed class SmallConvNet : Module
    {
        public readonly Conv2d Conv1, Conv2;
        public readonly Linear Fc;

        public SmallConvNet(Generator g)
        {
            Conv1 = RegisterModule("conv1", new Conv2d(1, 4, 3, padding: 1, generator: g));
            Conv2 = RegisterModule("conv2", new Conv2d(4, 6, 3, stride: 2, generator: g));
            Fc = RegisterModule("fc", new Linear(6 * 3 * 3, 3, generator: g));
        }

        protected override Tensor ForwardCore(Tensor x)
        {
            x = Conv1.Forward(x).Relu();
            x = Conv2.Forward(x).Relu();
            return Fc.Forward(x.Flatten(1));
        }
    }

    [Fact]
    public void PrunedWeightsStayZeroThroughSgdWithMomentumAndWeightDecay()
    {
        var g = new Generator(42);
        var net = new SmallConvNet(g);
        var optimizer = new SGD(net.Parameters(), lr: 0.1, momentum: 0.9, weightDecay: 5e-4); // built before pruning

        Prune.L1Unstructured(net.Conv1, "weight", 0.5);
        Prune.LnStructured(net.Conv2, "weight", 2, 2, dim: 0);
        Prune.GlobalUnstructured(new (Module, string)[] { (net.Conv2, "weight"), (net.Fc, "weight") }, GlobalPruningMethod.L1Unstructured, 0.3);
        Prune.RandomUnstructured(net.Fc, "bias", 1, new Generator(7));

        var x = Tensor.Randn(g, 8, 1, 7, 7);
        var y = Enumerable.Range(0, 8).Select(i => i % 3).ToArray();
        var pruned = new (Module M, string Name)[] { (net.Conv1, "weight"), (net.Conv2, "weight"), (net.Fc, "weight"), (net.Fc, "bias") };
        var before = pruned.Select(p => p.M[p.Name + "_orig"]!.ToArray()).ToList();
        float firstLoss = 0, lastLoss = 0;
        for (int step = 0; step < 6; step++)
        {
            optimizer.ZeroGrad();
            var loss = F.CrossEntropy(net.Forward(x), y);
            loss.Backward();
            if (step == 0) firstLoss = loss.Item();
            lastLoss = loss.Item();
            foreach (var (m, name) in pruned)
            {
                var mask = m[name + "_mask"]!.Data;
                var grad = m[name + "_orig"]!.Grad!.Data;
                for (int i = 0; i < mask.Length; i++)
                    if (mask[i] == 0) Assert.Equal(0f, grad[i]);
            }
            optimizer.Step();
        }
        net.Forward(x); // the pre-hooks refresh the effective weights from the updated originals

        Assert.True(lastLoss < firstLoss, $"loss did not decrease: {firstLoss} -> {lastLoss}");
        for (int k = 0; k < pruned.Length; k++)
        {
            var (m, name) = pruned[k];
            var mask = m[name + "_mask"]!.Data;
            var effective = m[name]!.Data;
            var orig = m[name + "_orig"]!.Data;
            int changed = 0;
            for (int i = 0; i < mask.Length; i++)
            {
                Assert.Equal(mask[i] == 0, effective[i] == 0); // zeros of the effective weight are exactly the mask's
                if (orig[i] != before[k][i]) changed++;
            }
            Assert.True(changed > 0, $"{name} of {m.TypeName} was not trained");
            Assert.Contains(m[name + "_orig"]!, optimizer.Parameters); // the optimizer still holds the live tensor
        }

        // Making it permanent keeps the same tensors and the zeros.
        foreach (var (m, name) in pruned) Prune.Remove(m, name);
        Assert.False(Prune.IsPruned(net));
        var report = PruningReport.FromModule(net);
        Assert.Equal(pruned.Sum(p => p.M[p.Name]!.Numel - p.M[p.Name]!.CountNonZero()), report.Pruned);
        Assert.Equal(net.Parameters().Count(), optimizer.Parameters.Count(p => net.Parameters().Contains(p)));
    }
}
