using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

/// <summary>Every op refuses bad input with an exception whose message names what is wrong.</summary>
public class BadInputTests
{
    private static void Throws<T>(Action act, params string[] fragments) where T : Exception
    {
        var ex = Assert.ThrowsAny<T>(act);
        foreach (var f in fragments)
            Assert.True(ex.Message.Contains(f, StringComparison.Ordinal), $"message \"{ex.Message}\" should mention \"{f}\"");
    }

    private static Tensor Z(params int[] shape) => Tensor.Zeros(shape);

    [Fact]
    public void BroadcastFailuresNameBothShapes()
    {
        Throws<ArgumentException>(() => _ = Z(3, 4) + Z(5), "(3, 4)", "(5,)");
        Throws<ArgumentException>(() => _ = Z(2, 3) * Z(3, 2), "(2, 3)", "(3, 2)");
        Throws<ArgumentException>(() => _ = Z(2, 1, 3) / Z(4, 2), "(2, 1, 3)", "(4, 2)");
        Throws<ArgumentException>(() => _ = Z(3) - Z(4), "(3,)", "(4,)");
        Throws<ArgumentException>(() => Tensor.Where(Z(3), Z(4), Z(4)), "(3,)", "(4,)");
        Throws<ArgumentException>(() => F.MseLoss(Z(3, 4), Z(5)), "(3, 4)", "(5,)");
        Throws<ArgumentException>(() => Z(2, 2).Gt(Z(3)), "(2, 2)", "(3,)");
    }

    [Fact]
    public void LinearAndMatMulShapeMismatches()
    {
        Throws<ArgumentException>(() => F.Linear(Z(2, 5), Z(3, 4)), "(2, 5)", "(3, 4)");
        Throws<ArgumentException>(() => F.Linear(Z(2, 4), Z(3, 4), Z(2)), "(2,)", "3");
        Throws<ArgumentException>(() => F.Linear(Z(2, 4), Z(4)), "2-D", "(4,)");
        Throws<ArgumentException>(() => new Linear(4, 3).Forward(Z(2, 5)), "(2, 5)", "(3, 4)");
        Throws<ArgumentException>(() => F.MatMul(Z(2, 3), Z(4, 5)), "(2, 3)", "(4, 5)");
        Throws<ArgumentException>(() => F.MatMul(Z(2, 3, 4), Z(4, 5)), "(2, 3, 4)");
    }

    [Fact]
    public void Conv2dMismatches()
    {
        Throws<ArgumentException>(() => F.Conv2d(Z(1, 3, 5, 5), Z(4, 2, 3, 3)), "2 channels", "3 channels", "(4, 2, 3, 3)");
        Throws<ArgumentException>(() => new Conv2d(3, 4, 3).Forward(Z(1, 2, 5, 5)), "3 channels", "2 channels");
        Throws<ArgumentException>(() => F.Conv2d(Z(1, 4, 5, 5), Z(3, 2, 3, 3), groups: 2), "groups=2", "out_channels=3");
        Throws<ArgumentException>(() => F.Conv2d(Z(3, 5, 5), Z(4, 3, 3, 3)), "4-D", "(3, 5, 5)");
        Throws<ArgumentException>(() => F.Conv2d(Z(1, 3, 2, 2), Z(4, 3, 3, 3)), "too small", "(1, 3, 2, 2)");
        Throws<ArgumentException>(() => F.Conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), Z(3)), "(3,)", "4");
        Throws<ArgumentException>(() => F.Conv2d(Z(1, 3, 5, 5), Z(4, 3, 3, 3), stride: (0, 1)), "stride");
        Throws<ArgumentException>(() => new Conv2d(3, 4, 3, groups: 2), "divisible", "groups (2)");
    }

    [Fact]
    public void PoolingAndBatchNormMismatches()
    {
        Throws<ArgumentException>(() => F.MaxPool2d(Z(1, 1, 2, 2), 3), "too small", "(1, 1, 2, 2)");
        Throws<ArgumentException>(() => F.AvgPool2d(Z(4, 4), 2), "(4, 4)");
        Throws<ArgumentException>(() => F.MaxPool2d(Z(1, 1, 6, 6), 2, padding: 2), "pad=(2, 2)", "kernel_size=(2, 2)");
        Throws<ArgumentException>(() => F.AdaptiveAvgPool2d(Z(1, 1, 4, 4), 0), "(0, 0)");
        Throws<ArgumentException>(() => new BatchNorm2d(3).Forward(Z(2, 4, 3, 3)), "running_mean", "(3,)", "4 channels");
        Throws<ArgumentException>(() => new BatchNorm2d(3).Forward(Z(2, 3, 3)), "4D", "(2, 3, 3)");
        Throws<ArgumentException>(() => new BatchNorm1d(3).Forward(Z(1, 3)), "more than 1 value per channel", "(1, 3)");
        Throws<ArgumentException>(() => F.BatchNorm(Z(2, 3), Z(3), Z(3), weight: Z(2)), "weight", "(2,)", "3 channels");
    }

    [Fact]
    public void InvalidDimsAreNamed()
    {
        var x = Z(2, 3, 4);
        Throws<ArgumentOutOfRangeException>(() => x.Sum(3), "dimension 3", "[-3, 2]");
        Throws<ArgumentOutOfRangeException>(() => x.Sum(new[] { 0, -4 }), "dimension -4");
        Throws<ArgumentException>(() => x.Sum(new[] { 1, 1 }), "multiple times");
        Throws<ArgumentOutOfRangeException>(() => x.Mean(5), "dimension 5");
        Throws<ArgumentOutOfRangeException>(() => x.Max(3), "dimension 3");
        Throws<ArgumentOutOfRangeException>(() => x.Norm(2, new[] { 7 }), "dimension 7");
        Throws<ArgumentException>(() => x.Permute(0, 1), "2 dims", "rank 3");
        Throws<ArgumentException>(() => x.Permute(0, 1, 1), "repeated");
        Throws<ArgumentOutOfRangeException>(() => x.Transpose(0, 3), "dimension 3");
        Throws<ArgumentOutOfRangeException>(() => x.Unsqueeze(4), "dimension 4");
        Throws<ArgumentOutOfRangeException>(() => x.Slice(-4, 0, 1), "dimension -4");
        Throws<IndexOutOfRangeException>(() => x.Select(1, 3), "index 3", "size 3");
        Throws<IndexOutOfRangeException>(() => x.IndexSelect(2, new[] { 0, 4 }), "index 4", "size 4");
        Throws<ArgumentOutOfRangeException>(() => x.Sort(3), "dimension 3");
        Throws<ArgumentOutOfRangeException>(() => x.TopK(5, -1), "k = 5", "size 4");
        Throws<ArgumentOutOfRangeException>(() => x.KthValue(0, 1), "k = 0", "size 3");
        Throws<ArgumentException>(() => x.Flatten(2, 1), "start_dim");
        Throws<InvalidOperationException>(() => x.T(), "2-D", "(2, 3, 4)");
        Throws<IndexOutOfRangeException>(() => Tensor.Scalar(1).Size(0), "no dimensions");
        Throws<ArgumentOutOfRangeException>(() => x.Size(3), "dimension 3");
    }

    [Fact]
    public void ViewAndConcatShapeErrors()
    {
        var x = Z(2, 3, 4);
        Throws<ArgumentException>(() => x.View(5, 5), "(5, 5)", "24");
        Throws<ArgumentException>(() => x.View(-1, 5), "(-1, 5)", "24");
        Throws<ArgumentException>(() => x.View(-1, -1), "one dimension");
        Throws<ArgumentException>(() => Tensor.Concat(new[] { Z(2, 3), Z(2, 4) }, 0), "(2, 4)", "(2, 3)", "dimension 0");
        Throws<ArgumentException>(() => Tensor.Concat(new[] { Z(2, 3), Z(2, 3, 1) }, 0), "rank 3");
        Throws<ArgumentException>(() => Tensor.Concat(Array.Empty<Tensor>()), "non-empty");
        Throws<ArgumentException>(() => Tensor.Stack(new[] { Z(2, 3), Z(3, 2) }), "(2, 3) at entry 0", "(3, 2) at entry 1");
        Throws<ArgumentException>(() => Tensor.FromArray(new float[5], 2, 3), "5 elements", "(2, 3)");
        Throws<ArgumentException>(() => Z(2, 3).CopyFrom(Z(3, 2)), "(2, 3)", "(3, 2)");
        Throws<ArgumentException>(() => _ = Z(2, 3)[1], "1 dims", "(2, 3)");
        Throws<IndexOutOfRangeException>(() => _ = Z(2, 3)[0, 3], "index 3", "size 3");
        Throws<InvalidOperationException>(() => Z(2).Item(), "(2,)");
    }

    [Fact]
    public void LossArgumentsAreChecked()
    {
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Z(2, 3), new[] { 0, 3 }), "target 3", "position 1", "3 classes");
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Z(2, 3), new[] { -1, 0 }), "target -1");
        Throws<ArgumentException>(() => F.CrossEntropy(Z(2, 3), new[] { 0 }), "1 targets", "batch of 2");
        Throws<ArgumentException>(() => F.CrossEntropy(Z(2, 3, 4), new[] { 0, 0 }), "(2, 3, 4)");
        Throws<ArgumentOutOfRangeException>(() => F.CrossEntropy(Z(2, 3), new[] { 0, 0 }, 1.5f), "label_smoothing", "1.5");
        Throws<ArgumentOutOfRangeException>(() => F.NllLoss(Z(2, 3), new[] { 0, 5 }), "target 5");
        Throws<ArgumentException>(() => F.LogSoftmax(Z(3)), "(3,)");
        Throws<ArgumentOutOfRangeException>(() => F.Dropout(Z(3), 1.5f, true), "1.5");
    }

    [Fact]
    public void LoadStateDictErrorsNameTheKeysAndShapes()
    {
        var net = new Sequential(new Conv2d(1, 2, 3), new ReLU(), new Linear(8, 4));
        var before = net.StateDict().Select(kv => kv.Value.ToArray()).ToList();
        List<KeyValuePair<string, Tensor>> Good() => net.StateDict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Clone().Fill_(7))).ToList();

        var wrongShape = Good();
        wrongShape[2] = new("2.weight", Z(4, 9));
        var ex = Assert.Throws<StateDictException>(() => net.LoadStateDict(wrongShape));
        Assert.Contains("2.weight", ex.Message);
        Assert.Contains("(4, 9)", ex.Message);
        Assert.Contains("(4, 8)", ex.Message);

        var unknown = Good();
        unknown.Add(new("2.weight_orig", Z(4, 8)));
        ex = Assert.Throws<StateDictException>(() => net.LoadStateDict(unknown));
        Assert.Contains("\"2.weight_orig\"", ex.Message);
        Assert.Equal(new[] { "2.weight_orig" }, ex.UnexpectedKeys);

        var missing = Good();
        missing.RemoveAll(kv => kv.Key == "0.bias");
        ex = Assert.Throws<StateDictException>(() => net.LoadStateDict(missing));
        Assert.Contains("\"0.bias\"", ex.Message);
        Assert.Equal(new[] { "0.bias" }, ex.MissingKeys);

        // Nothing was written by the failed loads.
        Assert.Equal(before, net.StateDict().Select(kv => kv.Value.ToArray()).ToList());

        // Non-strict: reports the differences and loads the rest; a shape mismatch still throws.
        var mixed = Good();
        mixed.RemoveAll(kv => kv.Key == "0.bias");
        mixed.Add(new("extra", Z(1)));
        var r = net.LoadStateDict(mixed, strict: false);
        Assert.Equal(new[] { "0.bias" }, r.MissingKeys);
        Assert.Equal(new[] { "extra" }, r.UnexpectedKeys);
        Assert.All(net.StateDict().Where(kv => kv.Key != "0.bias"), kv => Assert.All(kv.Value.ToArray(), v => Assert.Equal(7f, v)));
        Assert.Equal(before[1], net.StateDict()[1].Value.ToArray());
        Assert.Throws<StateDictException>(() => net.LoadStateDict(wrongShape, strict: false));
    }
}
