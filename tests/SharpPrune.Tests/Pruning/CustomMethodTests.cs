using SharpPrune.Examples.PruningTutorial;
using SharpPrune.NN;
using SharpPrune.Pruning;
using static SharpPrune.Tests.Pruning.PruningTestModules;

namespace SharpPrune.Tests.Pruning;

/// <summary>A user-written method (the tutorials' FooBarPruningMethod) through the whole machinery.</summary>
public class CustomMethodTests
{
    [Fact]
    public void FooBarPrunesEveryOtherEntry()
    {
        var fc = new Linear(84, 10, generator: new Generator(1));
        var bias = fc.Bias!.ToArray();
        FooBarPruningMethod.Unstructured(fc, "bias");
        var expectedMask = Enumerable.Range(0, 10).Select(i => i % 2 == 0 ? 0f : 1f).ToArray();
        Assert.Equal(expectedMask, fc["bias_mask"]!.ToArray());
        Assert.Equal(bias.Select((v, i) => v * expectedMask[i]), fc["bias"]!.ToArray());
        Assert.IsType<FooBarPruningMethod>(fc.ForwardPreHooks.Values.Single());
    }

    [Fact]
    public void FooBarAfterAnotherMethodActsOnTheRemainingEntries()
    {
        var m = new ParamModule("Linear", ("weight", new Tensor(new float[] { 1, 2, 3, 4, 5, 6, 7, 8 }, 2, 4)));
        Prune.L1Unstructured(m, "weight", 2); // prunes 1, 2
        FooBarPruningMethod.Unstructured(m, "weight"); // live entries 3..8 -> every other: 3, 5, 7
        AssertTensor(new Tensor(new float[] { 0, 0, 0, 4, 0, 6, 0, 8 }, 2, 4), m["weight"]!);
        var history = ((PruningContainer)m.ForwardPreHooks.Values.Single()).Methods;
        Assert.IsType<L1Unstructured>(history[0]);
        Assert.IsType<FooBarPruningMethod>(history[1]);

        Prune.Remove(m, "weight");
        AssertTensor(new Tensor(new float[] { 0, 0, 0, 4, 0, 6, 0, 8 }, 2, 4), m["weight"]!);
    }

    [Fact]
    public void CustomMethodWorksInGlobalPruning()
    {
        var a = new ParamModule("A", ("weight", Tensor.Ones(2, 2)));
        var b = new ParamModule("B", ("weight", Tensor.Ones(3)));
        Prune.GlobalUnstructured(new (Module, string)[] { (a, "weight"), (b, "weight") }, new FooBarPruningMethod());
        Assert.Equal(new float[] { 0, 1, 0, 1 }, a["weight_mask"]!.ToArray());
        Assert.Equal(new float[] { 0, 1, 0 }, b["weight_mask"]!.ToArray());
    }

    private sealed class HalfRowsStructured : BasePruningMethod
    {
        public override PruningType PruningType => PruningType.Structured;
        public override int? Dim => 0;
        public override Tensor ComputeMask(Tensor t, Tensor defaultMask)
        {
            var mask = defaultMask.Clone();
            int rows = t.Size(0), cols = t.Numel / rows;
            for (int r = 0; r < rows / 2; r++) mask.Data.Slice(r * cols, cols).Clear(); // first half of the rows it sees
            return mask;
        }
    }

    [Fact]
    public void CustomStructuredMethodSeesOnlyLiveChannels()
    {
        var m = new ParamModule("Linear", ("weight", Tensor.Ones(4, 2)));
        Prune.Apply(m, "weight", new HalfRowsStructured()); // rows 0, 1
        Prune.Apply(m, "weight", new HalfRowsStructured()); // of rows 2, 3: row 2
        Assert.Equal(new float[] { 0, 0, 0, 0, 0, 0, 1, 1 }, m["weight_mask"]!.ToArray());
    }

    private sealed class StructuredWithoutDim : BasePruningMethod
    {
        public override PruningType PruningType => PruningType.Structured;
        public override Tensor ComputeMask(Tensor t, Tensor defaultMask) => defaultMask.Clone();
    }

    [Fact]
    public void StructuredMethodWithoutDimIsRejectedWhenCombining()
    {
        var m = new ParamModule("Linear", ("weight", Tensor.Ones(4, 2)));
        Prune.Identity(m, "weight");
        var e = Assert.Throws<InvalidOperationException>(() => Prune.Apply(m, "weight", new StructuredWithoutDim()));
        Assert.Equal("Pruning methods of PRUNING_TYPE \"structured\" need to have the attribute `dim` defined.", e.Message);
    }
}
