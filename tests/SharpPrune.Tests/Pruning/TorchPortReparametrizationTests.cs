using SharpPrune.NN;
using SharpPrune.Pruning;
using static SharpPrune.Tests.Pruning.PruningTestModules;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// PyTorch's TestPruningNN (test/nn/test_pruning.py), the reparametrisation half: same cases and assertions.
/// <c>nn.Conv3d(2, 2, 2)</c> is a stand-in module with Conv3d's parameter shapes; <c>mock.patch(compute_mask)</c>
/// is a subclass overriding ComputeMask.
/// </summary>
public class TorchPortReparametrizationTests
{
    private static readonly Tensor Input = Tensor.Ones(1, 5);

    [Fact] // test_random_pruning_sizes
    public void RandomPruningSizes()
    {
        foreach (var m in LinearAndConv3d())
            foreach (var name in Names)
            {
                var original = m[name]!;
                Prune.RandomUnstructured(m, name, 0.1);
                Assert.Equal(original.ShapeCopy(), m[name + "_mask"]!.ShapeCopy());
                Assert.Equal(original.ShapeCopy(), m[name + "_orig"]!.ShapeCopy());
                Assert.Equal(original.ShapeCopy(), m[name]!.ShapeCopy());
            }
    }

    [Fact] // test_random_pruning_orig
    public void RandomPruningOrig()
    {
        foreach (var m in LinearAndConv3d())
            foreach (var name in Names)
            {
                var original = m[name]!;
                var values = original.ToArray();
                Prune.RandomUnstructured(m, name, 0.1);
                Assert.Same(original, m[name + "_orig"]); // the very parameter object
                Assert.Equal(values, m[name + "_orig"]!.ToArray());
            }
    }

    [Fact] // test_random_pruning_new_weight
    public void RandomPruningNewWeight()
    {
        foreach (var m in LinearAndConv3d())
            foreach (var name in Names)
            {
                Prune.RandomUnstructured(m, name, 0.1);
                AssertTensor(m[name + "_orig"]! * m[name + "_mask"]!, m[name]!);
                Assert.Equal(Math.Round(0.1 * m[name]!.Numel, MidpointRounding.ToEven), m[name + "_mask"]!.Numel - m[name + "_mask"]!.CountNonZero());
            }
    }

    [Fact] // test_identity_pruning
    public void IdentityPruning()
    {
        var m = new Linear(5, 2, generator: new Generator(3));
        var yPre = m.Forward(Input);
        yPre.Sum().Backward();
        var oldGradWeight = m.Weight.Grad!.Clone();
        AssertTensor(Tensor.Ones(2, 5), oldGradWeight);
        var oldGradBias = m.Bias!.Grad!.Clone();
        AssertTensor(Tensor.Ones(2), oldGradBias);
        m.ZeroGrad();

        Prune.Identity(m, "weight");

        var yPost = m.Forward(Input);
        AssertTensor(yPre, yPost);
        yPost.Sum().Backward();
        AssertTensor(oldGradWeight, m["weight_orig"]!.Grad!);
        AssertTensor(oldGradBias, m.Bias!.Grad!);
        AssertTensor(m.Forward(Input), m.Forward(Input));
    }

    [Fact] // test_random_pruning_0perc
    public void RandomPruning0Perc()
    {
        var m = new Linear(5, 2, generator: new Generator(4));
        var yPre = m.Forward(Input);
        yPre.Sum().Backward();
        var oldGradWeight = m.Weight.Grad!.Clone();
        AssertTensor(Tensor.Ones(2, 5), oldGradWeight);
        var oldGradBias = m.Bias!.Grad!.Clone();
        m.ZeroGrad();

        Prune.Apply(m, "weight", new FixedMaskRandomUnstructured(0.9, Tensor.Ones(2, 5))); // amount won't count

        var yPost = m.Forward(Input);
        AssertTensor(yPre, yPost);
        yPost.Sum().Backward();
        AssertTensor(oldGradWeight, m["weight_orig"]!.Grad!);
        AssertTensor(oldGradBias, m.Bias!.Grad!);
        AssertTensor(m.Forward(Input), m.Forward(Input));
    }

    private static Tensor MaskWithHoles()
    {
        var mask = Tensor.Ones(2, 5);
        mask[1, 0] = 0;
        mask[0, 3] = 0;
        return mask;
    }

    [Fact] // test_random_pruning
    public void RandomPruning()
    {
        var m = new Linear(5, 2, generator: new Generator(5));
        var mask = MaskWithHoles();
        Prune.Apply(m, "weight", new FixedMaskRandomUnstructured(0.9, mask));

        m.Forward(Input).Sum().Backward();
        AssertTensor(mask, m["weight_orig"]!.Grad!); // weight_orig is the parameter: zero grad where masked
        AssertTensor(Tensor.Ones(2), m.Bias!.Grad!);

        var oldOrig = m["weight_orig"]!.Clone();
        const float learningRate = 1f;
        foreach (var p in m.Parameters())
        {
            var d = p.Data; var g = p.Grad!.Data;
            for (int i = 0; i < d.Length; i++) d[i] -= g[i] * learningRate;
        }
        Assert.Equal(oldOrig[1, 0], m["weight_orig"]![1, 0]);
        Assert.Equal(oldOrig[0, 3], m["weight_orig"]![0, 3]);
    }

    [Fact] // test_random_pruning_forward
    public void RandomPruningForward()
    {
        var m = new Linear(5, 2, generator: new Generator(6));
        var mask = Tensor.Zeros(2, 5);
        mask[1, 0] = 1;
        mask[0, 3] = 1;
        Prune.Apply(m, "weight", new FixedMaskRandomUnstructured(0.9, mask));

        var yhat = m.Forward(Input);
        var orig = m["weight_orig"]!;
        Assert.Equal(orig[0, 3] + m.Bias![0], yhat[0, 0], 6);
        Assert.Equal(orig[1, 0] + m.Bias![1], yhat[0, 1], 6);
    }

    [Fact] // test_remove_pruning_forward
    public void RemovePruningForward()
    {
        var m = new Linear(5, 2, generator: new Generator(7));
        Prune.Apply(m, "weight", new FixedMaskRandomUnstructured(0.9, MaskWithHoles()));
        var yPost = m.Forward(Input);
        Prune.Remove(m, "weight");
        AssertTensor(yPost, m.Forward(Input));
    }

    [Fact] // test_pruning_id_consistency
    public void PruningIdConsistency()
    {
        var m = new Linear(5, 2, bias: false, generator: new Generator(8));
        var tensor = m.Parameters().First();
        Prune.RandomUnstructured(m, "weight", 0.9);
        Assert.Same(tensor, m.Parameters().First());
        Prune.Remove(m, "weight");
        Assert.Same(tensor, m.Parameters().First());
    }

    [Fact] // test_multiple_pruning_calls
    public void MultiplePruningCalls()
    {
        var m = LinearAndConv3d(9)[1];
        Prune.L1Unstructured(m, "weight", 0.1);
        var weightMask0 = m["weight_mask"]!;

        Prune.LnStructured(m, "weight", 0.3, 2, dim: 0);
        var hook = m.ForwardPreHooks.Values.First();
        var container = Assert.IsType<PruningContainer>(hook);
        Assert.Equal("weight", container.TensorName);
        Assert.Equal(2, container.Count);
        Assert.IsType<L1Unstructured>(container[0]);
        Assert.IsType<LnStructured>(container[1]);
        var mask = m["weight_mask"]!.Data;
        var mask0 = weightMask0.Data;
        for (int i = 0; i < mask.Length; i++)
            if (mask0[i] == 0) Assert.Equal(0f, mask[i]);

        Prune.LnStructured(m, "weight", 0.1, double.PositiveInfinity, dim: 1);
        hook = m.ForwardPreHooks.Values.First();
        Assert.Equal("weight", ((BasePruningMethod)hook).TensorName);
        Assert.Equal(3, ((PruningContainer)hook).Count);
        Assert.Single(m.ForwardPreHooks);
    }

    [Fact] // test_remove_pruning
    public void RemovePruning()
    {
        foreach (var m in LinearAndConv3d(10))
            foreach (var name in Names)
            {
                Prune.RandomUnstructured(m, name, 0.5);
                Assert.Contains(name + "_orig", Params(m).Keys);
                Assert.Contains(name + "_mask", Buffers(m).Keys);
                Assert.DoesNotContain(name, Params(m).Keys);
                Assert.True(m.HasAttribute(name));
                var pruned = m[name]!.ToArray();

                Prune.Remove(m, name);
                Assert.Contains(name, Params(m).Keys);
                Assert.DoesNotContain(name + "_orig", Params(m).Keys);
                Assert.DoesNotContain(name + "_mask", Buffers(m).Keys);
                Assert.Equal(pruned, m[name]!.ToArray());
            }
    }

    [Fact] // test_remove_pruning_exception
    public void RemovePruningException()
    {
        foreach (var m in LinearAndConv3d(11))
            foreach (var name in Names)
            {
                Assert.False(Prune.IsPruned(m));
                var e = Assert.Throws<ArgumentException>(() => Prune.Remove(m, name));
                Assert.Equal($"Parameter '{name}' of module {m.TypeName} has to be pruned before pruning can be removed", e.Message);
            }
    }

    [Fact] // test_pruning_rollback
    public void PruningRollback()
    {
        foreach (var m in LinearAndConv3d(12))
            foreach (var name in Names)
            {
                var e = Assert.Throws<InvalidOperationException>(() => Prune.Apply(m, name, new FailingL1Unstructured(0.9)));
                Assert.Equal("HA!", e.Message);
                Assert.Contains(name, Params(m).Keys);
                Assert.DoesNotContain(name + "_mask", Buffers(m).Keys);
                Assert.DoesNotContain(name + "_orig", Params(m).Keys);
            }
    }
}
