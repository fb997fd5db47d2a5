using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

using Op = Func<IReadOnlyDictionary<string, Tensor>, Outs>;

/// <summary>
/// Pooling and batch norm (outputs, gradients, running statistics after a training step) against
/// tests/fixtures/core/{pool,batchnorm}.safetensors. Batch norm uses 1e-4: its mean/variance sums run in a
/// different order from PyTorch's.
/// </summary>
public class PoolBatchNormParityTests
{
    private static CoreFixture Pool => CoreFixture.Get("pool.safetensors");
    private static CoreFixture Bn => CoreFixture.Get("batchnorm.safetensors");

    private static readonly Dictionary<string, Op> PoolOps = new()
    {
        ["maxpool_k2"] = i => F.MaxPool2d(i["x"], 2),
        ["maxpool_k3_s2_p1"] = i => F.MaxPool2d(i["x"], 3, stride: 2, padding: 1),
        ["maxpool_k2_s1"] = i => F.MaxPool2d(i["x"], 2, stride: 1),
        ["avgpool_k2"] = i => F.AvgPool2d(i["x"], 2),
        ["avgpool_k3_s2_p1"] = i => F.AvgPool2d(i["x"], 3, stride: 2, padding: 1),
        ["adaptive_avg_3x3"] = i => F.AdaptiveAvgPool2d(i["x"], 3),
        ["adaptive_avg_1x1"] = i => F.AdaptiveAvgPool2d(i["x"], 1),
        ["adaptive_avg_8x6_to_3x4"] = i => F.AdaptiveAvgPool2d(i["x"], (3, 4)),
    };

    private static double Meta(string key) => double.Parse(Bn.Metadata[key], System.Globalization.CultureInfo.InvariantCulture);

    private static Op BatchNorm(bool training) => i =>
        F.BatchNorm(i["x"], i["running_mean"], i["running_var"], i["weight"], i["bias"], training, Meta("momentum"), Meta("eps"));

    private static readonly Dictionary<string, Op> BnOps = new()
    {
        ["bn1d_train"] = BatchNorm(true),
        ["bn1d_eval"] = BatchNorm(false),
        ["bn2d_train"] = BatchNorm(true),
        ["bn2d_eval"] = BatchNorm(false),
    };

    public static IEnumerable<object[]> PoolCases => PoolOps.Keys.Select(k => new object[] { k });
    public static IEnumerable<object[]> BnCases => BnOps.Keys.Select(k => new object[] { k });

    [Theory, MemberData(nameof(PoolCases))]
    public void PoolingMatchesPyTorch(string name)
    {
        // Every path: the portable scalar loops and each vector ISA this CPU has.
        foreach (var isa in new[] { SharpPrune.Kernels.CpuIsa.Portable }.Concat(SharpPrune.Tests.Kernels.KernelTestUtil.VectorIsas()))
        {
            SharpPrune.Kernels.Gemm.MaxIsa = isa;
            try { Pool.Check(name, PoolOps[name]); }
            finally { SharpPrune.Kernels.Gemm.MaxIsa = null; }
        }
    }

    [Theory, MemberData(nameof(BnCases))]
    public void BatchNormMatchesPyTorch(string name) => Bn.Check(name, BnOps[name], 1e-4);

    /// <summary>The layers run the same functional ops with their own buffers: one training step of BatchNorm2d.</summary>
    [Fact]
    public void BatchNorm2dLayerUpdatesItsBuffersLikeTheFunctional()
    {
        const string c = "bn2d_train";
        var layer = new BatchNorm2d(3);
        layer.LoadStateDict(new Dictionary<string, Tensor>
        {
            ["weight"] = Bn[$"{c}.in.weight"], ["bias"] = Bn[$"{c}.in.bias"],
            ["running_mean"] = Bn[$"{c}.in.running_mean"], ["running_var"] = Bn[$"{c}.in.running_var"],
            ["num_batches_tracked"] = Tensor.Scalar(0),
        });
        var y = layer.Forward(Bn[$"{c}.in.x"]);
        TensorAssert.Close(Bn[$"{c}.out"], y, 1e-4, "BatchNorm2d output");
        TensorAssert.Close(Bn[$"{c}.state.running_mean"], layer.RunningMean!, 1e-4, "BatchNorm2d running_mean");
        TensorAssert.Close(Bn[$"{c}.state.running_var"], layer.RunningVar!, 1e-4, "BatchNorm2d running_var");
        Assert.Equal(1f, layer.NumBatchesTracked!.Item());

        layer.Eval();
        var before = layer.RunningMean!.ToArray();
        layer.Forward(Bn[$"{c}.in.x"]);
        Assert.Equal(before, layer.RunningMean!.ToArray()); // eval leaves the statistics alone
    }

    [Fact]
    public void EveryFixtureCaseIsTested()
    {
        Pool.AssertCovers(PoolOps.Keys);
        Bn.AssertCovers(BnOps.Keys);
    }
}
