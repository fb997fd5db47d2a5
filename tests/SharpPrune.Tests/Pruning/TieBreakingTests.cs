using SharpPrune.Pruning;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// PyTorch's topk leaves the order among equal values unspecified; SharpPrune prunes the lowest flat index first
/// (L1Unstructured) and keeps the lowest channel index first (LnStructured), the order of Tensor.TopKFlatIndices.
/// The methods use a linear-time selection; these tests hold it to that order on inputs full of ties, ±0 and NaN.
/// </summary>
public class TieBreakingTests
{
    private static Tensor Tied(Generator g, params int[] shape)
    {
        float[] pool = { 0f, -0f, 1f, -1f, 2f, 0.5f, -0.5f, float.NaN, 3f, -3f };
        var t = Tensor.Zeros(shape);
        var d = t.Data;
        for (int i = 0; i < d.Length; i++) d[i] = pool[g.NextInt(pool.Length)];
        return t;
    }

    [Fact]
    public void L1UnstructuredPrunesLowestIndexAmongEqualMagnitudes()
    {
        var g = new Generator(3);
        for (int trial = 0; trial < 20; trial++)
        {
            var t = Tied(g, 7, 9);
            var abs = t.Abs();
            for (int k = 0; k <= t.Numel; k += 1 + trial % 5)
            {
                var expected = Tensor.Ones(7, 9);
                foreach (var i in abs.TopKFlatIndices(k, largest: false)) expected.Data[i] = 0;
                var mask = new L1Unstructured(k).ComputeMask(t, Tensor.Ones(7, 9));
                Assert.Equal(expected.ToArray(), mask.ToArray());
            }
        }
    }

    [Fact]
    public void LnStructuredKeepsLowestChannelAmongEqualNorms()
    {
        var g = new Generator(4);
        for (int trial = 0; trial < 20; trial++)
        {
            var t = Tied(g, 12, 2);
            var data = t.Data;
            for (int i = 0; i < data.Length; i++) if (float.IsNaN(data[i])) data[i] = 1f; // norms of NaN rows are NaN either way
            var norms = t.Norm(1, new[] { 1 });
            for (int k = 0; k <= 12; k++)
            {
                var keep = norms.TopKFlatIndices(12 - k, largest: true).ToHashSet();
                var mask = new LnStructured(k, 1, dim: 0).ComputeMask(t, Tensor.Ones(12, 2));
                for (int c = 0; c < 12; c++)
                    Assert.Equal(keep.Contains(c) || k == 0 ? 1f : 0f, mask[c, 0]);
            }
        }
    }

    [Fact]
    public void NaNMagnitudesArePrunedLast()
    {
        var t = new Tensor(new[] { float.NaN, 5f, -1f, float.NaN, 2f }, 5);
        Assert.Equal(new float[] { 1, 0, 0, 1, 0 }, new L1Unstructured(3).ComputeMask(t, Tensor.Ones(5)).ToArray());
        Assert.Equal(new float[] { 0, 0, 0, 1, 0 }, new L1Unstructured(4).ComputeMask(t, Tensor.Ones(5)).ToArray());
    }
}
