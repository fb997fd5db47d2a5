using SharpPrune.NN;
using Xunit;

namespace SharpPrune.Tests.Core;

public class SequentialRegistryTests
{
    [Fact]
    public void ReplacingAChildChangesWhatRuns()
    {
        var seq = new Sequential(new Linear(3, 3, generator: new Generator(1)), new ReLU());
        seq.RegisterModule("0", new Identity());
        var x = Tensor.FromArray(new float[] { -1, 2, -3 }, 1, 3);
        var y = seq.Forward(x);
        Assert.Equal(new float[] { 0, 2, 0 }, y.ToArray());
        Assert.DoesNotContain(seq.StateDict(), kv => kv.Key.StartsWith("0."));
        Assert.IsType<Identity>(seq[0]);
    }
}
