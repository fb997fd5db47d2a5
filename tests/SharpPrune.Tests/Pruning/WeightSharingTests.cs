using SharpPrune.NN;
using SharpPrune.Optim;
using SharpPrune.Pruning;

namespace SharpPrune.Tests.Pruning;

public class WeightSharingTests
{
    [Fact]
    public void TakeGathersByFlatIndexAndScatterAddsItsGradient()
    {
        var src = Tensor.FromArray([10f, 20f, 30f], 3).RequiresGrad_();
        var idx = Tensor.FromArray([2f, 0f, 2f, 1f, 2f, 0f], 2, 3);
        var y = src.Take(idx);
        Assert.Equal(new[] { 2, 3 }, y.Shape);
        Assert.Equal(new[] { 30f, 10f, 30f, 20f, 30f, 10f }, y.ToArray());
        var g = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 2, 3);
        (y * g).Sum().Backward();
        Assert.Equal(new[] { 2f + 6f, 4f, 1f + 3f + 5f }, src.Grad!.ToArray());
        Assert.Throws<IndexOutOfRangeException>(() => src.Take(Tensor.FromArray([3f], 1)));
        Assert.Throws<IndexOutOfRangeException>(() => src.Take(Tensor.FromArray([0.5f], 1)));
    }

    [Fact]
    public void TakeMatchesTorchTakeAndItsGradient()
    {
        var f = Fixtures.Load("core", "take.safetensors");
        var x = f.Get("take.in.x").RequiresGrad_();
        var y = x.Take(f.Get("take.in.index"));
        Assert.Equal(f.Get("take.out").ToArray(), y.ToArray());
        (y * f.Get("take.gout")).Sum().Backward();
        var expected = f.Get("take.grad.x").ToArray();
        var got = x.Grad!.ToArray();
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i], 5);
    }

    [Theory]
    [InlineData(CentroidInit.Linear)]
    [InlineData(CentroidInit.Density)]
    [InlineData(CentroidInit.Random)]
    public void KMeansFindsWellSeparatedClustersAndAssignsEachValueToItsNearestCentroid(CentroidInit init)
    {
        var g = new Generator(3);
        var values = new float[300];
        for (int i = 0; i < values.Length; i++) values[i] = (i % 3) * 10f + (float)(g.NextDouble() - 0.5);
        var r = KMeans1d.Fit(values, 3, init, new Generator(1));
        Assert.Equal(3, r.Centroids.Length);
        for (int j = 0; j < 3; j++) Assert.InRange(r.Centroids[j], j * 10f - 0.5f, j * 10f + 0.5f);
        for (int i = 0; i < values.Length; i++) Assert.Equal(KMeans1d.Nearest(values[i], r.Centroids), r.Assignments[i]);
        // The centroid is the mean of its members (Lloyd's fixed point).
        for (int j = 0; j < 3; j++)
            Assert.Equal(values.Where((v, i) => r.Assignments[i] == j).Average(v => (double)v), r.Centroids[j], 4);
    }

    [Fact]
    public void KMeansNeverMakesMoreCentroidsThanValuesAndHandlesNoValues()
    {
        var r = KMeans1d.Fit([1f, 1f, 2f], 256, CentroidInit.Linear);
        Assert.Equal(new[] { 1f, 2f }, r.Centroids);
        Assert.Equal(new[] { 0, 0, 1 }, r.Assignments);
        Assert.Single(KMeans1d.Fit([], 8, CentroidInit.Linear).Centroids);
        Assert.Throws<ArgumentException>(() => KMeans1d.Fit([float.NaN], 2, CentroidInit.Linear));
    }

    [Fact]
    public void SharingAPrunedWeightKeepsItsZerosAndUsesAtMostTwoToTheBitsValues()
    {
        var lin = new Linear(40, 30, generator: new Generator(2));
        Prune.L1Unstructured(lin, "weight", 0.7);
        var before = lin["weight"]!.Clone();
        WeightSharing.Apply(lin, "weight", bits: 3);

        Assert.Equal(new[] { "bias", "weight_codebook" }, lin.NamedParameters().Select(p => p.Name).ToArray());
        Assert.Equal(new[] { "weight_indices", "weight_mask" }, lin.NamedBuffers().Select(p => p.Name).ToArray());
        Assert.False(lin.HasAttribute("weight_orig"));
        var codebook = lin["weight_codebook"]!.ToArray();
        Assert.InRange(codebook.Length, 2, 8);
        var w = lin["weight"]!.Data.ToArray();
        var b = before.Data;
        for (int i = 0; i < w.Length; i++)
        {
            if (b[i] == 0f) Assert.Equal(0f, w[i]);
            else
            {
                Assert.Contains(w[i], codebook);
                Assert.Equal(codebook[KMeans1d.Nearest(b[i], codebook)], w[i]); // the nearest shared value
            }
        }
        Assert.Equal(PruningReport.FromModule(lin).Rows.Single(r => r.Name == "weight").NonZeros, before.CountNonZero());
    }

    [Fact]
    public void CentroidGradientIsTheSumOfTheGradientsOfItsWeightsAndAssignmentsStayFixed()
    {
        var lin = new Linear(12, 6, generator: new Generator(4));
        Prune.L1Unstructured(lin, "weight", 0.5);
        WeightSharing.Apply(lin, "weight", bits: 2);
        var x = Tensor.Randn(new Generator(5), 4, 12);

        // Reference: the gradient of the plain weight (a detached copy as a leaf).
        var wLeaf = lin["weight"]!.Detach().Clone().RequiresGrad_();
        var yRef = F.Linear(x, wLeaf, lin["bias"]!.Detach()); (yRef * yRef).Sum().Backward();
        var yq = lin.Forward(x); (yq * yq).Sum().Backward();
        var idx = lin["weight_indices"]!.Data.ToArray(); var mask = lin["weight_mask"]!.Data.ToArray();
        var expected = new double[lin["weight_codebook"]!.Numel];
        var gw = wLeaf.Grad!.Data.ToArray();
        for (int i = 0; i < idx.Length; i++) if (mask[i] != 0f) expected[(int)idx[i]] += gw[i];
        var got = lin["weight_codebook"]!.Grad!.ToArray();
        for (int j = 0; j < expected.Length; j++) Assert.Equal(expected[j], got[j], 4);

        var indicesBefore = lin["weight_indices"]!.Clone();
        new SGD(lin.Parameters(), lr: 0.1).Step();
        lin.Forward(x);
        Assert.Equal(indicesBefore.ToArray(), lin["weight_indices"]!.ToArray());
        var w = lin["weight"]!.Data.ToArray();
        for (int i = 0; i < w.Length; i++) if (mask[i] == 0f) Assert.Equal(0f, w[i]);
    }

    [Fact]
    public void AQuantizedStateDictLoadsIntoAFreshModelWithTheSameOutputs()
    {
        var model = new Sequential(new (string, Module)[] { ("fc1", new Linear(8, 16, generator: new Generator(1))), ("relu", new ReLU()), ("fc2", new Linear(16, 3, generator: new Generator(2))) });
        Prune.L1Unstructured(model.GetSubmodule("fc1"), "weight", 0.5);
        WeightSharing.Apply(model.GetSubmodule("fc1"), "weight", 4);
        WeightSharing.Apply(model.GetSubmodule("fc2"), "weight", 2, CentroidInit.Density); // not pruned: no mask
        var x = Tensor.Randn(new Generator(9), 5, 8);
        var y = model.Forward(x).ToArray();
        var keys = model.StateDict().Select(kv => kv.Key).ToArray();
        Assert.Contains("fc1.weight_mask", keys);
        Assert.DoesNotContain("fc2.weight_mask", keys);

        var fresh = new Sequential(new (string, Module)[] { ("fc1", new Linear(8, 16)), ("relu", new ReLU()), ("fc2", new Linear(16, 3)) });
        PrunedStateDict.Load(fresh, model.StateDict());
        Assert.Equal(keys, fresh.StateDict().Select(kv => kv.Key).ToArray());
        Assert.Equal(y, fresh.Forward(x).ToArray());
    }

    [Fact]
    public void BadArgumentsChangeNothing()
    {
        var lin = new Linear(4, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => WeightSharing.Apply(lin, "weight", 0));
        Assert.Throws<ArgumentException>(() => WeightSharing.Apply(lin, "nope", 4));
        Assert.True(lin.HasParameter("weight"));
        WeightSharing.Apply(lin, "weight", 4);
        Assert.Throws<InvalidOperationException>(() => WeightSharing.Apply(lin, "weight", 4));
    }
}
