using SharpPrune.IO;
using SharpPrune.NN;
using SharpPrune.Optim;

namespace SharpPrune.Tests.IO;

public class CheckpointTests
{
    private static Sequential Model(ulong seed) =>
        new(new Linear(4, 6, generator: new Generator(seed)), new ReLU(), new Linear(6, 3, generator: new Generator(seed + 1)));

    /// <summary>One training step with gradients drawn from <paramref name="g"/> (deterministic, independent of autograd).</summary>
    private static void FakeStep(Optimizer opt, Generator g, LRScheduler? sched = null)
    {
        foreach (var p in opt.Parameters) p.Grad = Tensor.Randn(g, p.ShapeCopy());
        opt.Step();
        sched?.Step();
    }

    private static void AssertSameState(IEnumerable<KeyValuePair<string, Tensor>> a, IEnumerable<KeyValuePair<string, Tensor>> b)
    {
        var x = a.ToList(); var y = b.ToList();
        Assert.Equal(x.Select(kv => kv.Key), y.Select(kv => kv.Key));
        for (int i = 0; i < x.Count; i++) Assert.Equal(x[i].Value.ToArray(), y[i].Value.ToArray());
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adam")]
    public void ResumeFromCheckpointContinuesExactlyLikeUninterruptedTraining(string kind)
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "ckpt.safetensors");
        Optimizer MakeOpt(Module m) => kind == "sgd"
            ? new SGD(m.Parameters(), 0.1, momentum: 0.9, weightDecay: 5e-4, nesterov: true)
            : new Adam(m.Parameters(), 0.01, weightDecay: 1e-3, amsgrad: true);

        var model = Model(1);
        var opt = MakeOpt(model);
        var sched = new CosineAnnealingLR(opt, tMax: 6, etaMin: 1e-4);
        var grads = new Generator(99);
        for (int i = 0; i < 3; i++) FakeStep(opt, grads, sched);
        var rngAtSave = grads.GetState();
        Checkpoint.Save(path, model, opt, sched, new Dictionary<string, string>
        {
            ["epoch"] = "3", ["num_classes"] = "3", ["rng"] = Checkpoint.FormatRngState(grads),
        });
        for (int i = 0; i < 3; i++) FakeStep(opt, grads, sched);

        // A fresh process: different init, default hyperparameters, then restore everything.
        var model2 = Model(50);
        var opt2 = MakeOpt(model2);
        var sched2 = new CosineAnnealingLR(opt2, tMax: 6, etaMin: 1e-4);
        var data = Checkpoint.Load(path);
        data.Restore(model2, opt2, sched2);
        var grads2 = new Generator(0);
        Checkpoint.RestoreRngState(grads2, data.Metadata["rng"]);
        Assert.Equal(rngAtSave, grads2.GetState());
        Assert.Equal("3", data.Get("epoch"));
        Assert.Equal(3, opt2.StepCount);
        Assert.Equal(3, sched2.LastEpoch);
        for (int i = 0; i < 3; i++) FakeStep(opt2, grads2, sched2);

        AssertSameState(model.StateDict(), model2.StateDict());
        AssertSameState(opt.StateTensors(), opt2.StateTensors());
        Assert.Equal(opt.LearningRate, opt2.LearningRate);
        Assert.Equal(sched.GetLastLr(), sched2.GetLastLr());
    }

    [Fact]
    public void FileIsPlainSafetensorsWithPrefixedOptimizerStateAndMetadata()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "ckpt.safetensors");
        var model = Model(3);
        var opt = new SGD(model.Parameters(), 0.05, momentum: 0.9);
        var sched = new StepLR(opt, 2, 0.5);
        FakeStep(opt, new Generator(5), sched);
        Checkpoint.Save(path, model, opt, sched, new Dictionary<string, string> { ["model"] = "mlp" });

        var f = SafeTensors.Load(path);
        Assert.Equal(new[] { "0.weight", "0.bias", "2.weight", "2.bias",
            "optimizer.0.momentum_buffer", "optimizer.1.momentum_buffer", "optimizer.2.momentum_buffer", "optimizer.3.momentum_buffer" },
            f.Tensors.Select(kv => kv.Key));
        Assert.Equal("mlp", f.Metadata["model"]);
        Assert.Equal(CheckpointKeys.FormatVersion, f.Metadata[CheckpointKeys.FormatKey]);
        Assert.Equal("SGD", f.Metadata["optimizer.type"]);
        Assert.Equal("0.05", f.Metadata["optimizer.lr"]);
        Assert.Equal("0.9", f.Metadata["optimizer.momentum"]);
        Assert.Equal("StepLR", f.Metadata["scheduler.type"]);
        Assert.Equal("1", f.Metadata["scheduler.last_epoch"]);

        var data = Checkpoint.Load(path);
        Assert.Equal(4, data.Model.Count);
        Assert.Equal("0.momentum_buffer", data.OptimizerState[0].Key);
    }

    [Fact]
    public void ModelOnlyCheckpointRestoresWeightsAndRefusesOptimizerRestore()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "weights.safetensors");
        var model = Model(7);
        Checkpoint.Save(path, model, null, null, new Dictionary<string, string>());
        var data = Checkpoint.Load(path);
        var model2 = Model(8);
        data.RestoreModel(model2);
        AssertSameState(model.StateDict(), model2.StateDict());
        Assert.False(data.HasOptimizer);
        var e = Assert.Throws<InvalidOperationException>(() => data.RestoreOptimizer(new SGD(model2.Parameters(), 0.1)));
        Assert.Contains("no optimizer state", e.Message);
        Assert.Throws<InvalidOperationException>(() => data.RestoreScheduler(new StepLR(new SGD(model2.Parameters(), 0.1), 3)));
    }

    [Fact]
    public void ReservedMetadataKeysAreRefused()
    {
        using var dir = new TempDir();
        var model = Model(1);
        var e = Assert.Throws<ArgumentException>(() => Checkpoint.Save(Path.Combine(dir.Path, "x"), model, null, null,
            new Dictionary<string, string> { ["optimizer.lr"] = "1" }));
        Assert.Contains("'optimizer.lr' is reserved", e.Message);
    }

    [Fact]
    public void RestoringIntoTheWrongOptimizerFailsAndChangesNothing()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "ckpt.safetensors");
        var model = Model(1);
        var opt = new Adam(model.Parameters(), 0.01);
        FakeStep(opt, new Generator(2));
        Checkpoint.Save(path, model, opt, null, new Dictionary<string, string>());
        var data = Checkpoint.Load(path);

        var sgd = new SGD(Model(1).Parameters(), 0.1, momentum: 0.5);
        var e = Assert.Throws<InvalidDataException>(() => data.RestoreOptimizer(sgd));
        Assert.Contains("hyperparameters are for a Adam optimizer, this one is SGD", e.Message);
        Assert.Equal(0.1, sgd.LearningRate);

        // Same type, different architecture: state shapes do not fit, hyperparameters are rolled back.
        var other = new Sequential(new Linear(4, 5, generator: new Generator(1)), new ReLU(), new Linear(5, 3, generator: new Generator(2)));
        var adam = new Adam(other.Parameters(), 0.5);
        var e2 = Assert.Throws<InvalidDataException>(() => data.RestoreOptimizer(adam));
        Assert.Contains("'0.exp_avg': shape (6, 4) but parameter 0 needs shape (5, 4)", e2.Message);
        Assert.Equal(0.5, adam.LearningRate);
        Assert.Equal(0, adam.StepCount);
        Assert.Empty(adam.StateTensors());
    }

    [Fact]
    public void RejectedSaveLeavesTheOldCheckpoint()
    {
        using var dir = new TempDir();
        string path = Path.Combine(dir.Path, "ckpt.safetensors");
        Checkpoint.Save(path, Model(1), null, null, new Dictionary<string, string> { ["epoch"] = "1" });
        var before = File.ReadAllBytes(path);
        Assert.ThrowsAny<ArgumentException>(() => Checkpoint.Save(path, Model(2), null, null, new Dictionary<string, string> { ["sharpprune.x"] = "y" }));
        Assert.Equal(before, File.ReadAllBytes(path));
    }
}
