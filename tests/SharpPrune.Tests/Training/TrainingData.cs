using SharpPrune.NN;
using SharpPrune.Vision.Data;
using SharpPrune.Vision.Training;

namespace SharpPrune.Tests.Training;

/// <summary>The shipped Fashion-MNIST sample (loaded once) and a tiny model for fast training tests.</summary>
internal static class TrainingData
{
    private static readonly Lazy<(ImageDataset Train, ImageDataset Test)> Sample = new(() =>
        Datasets.Load("fashion-mnist", Datasets.SampleDirectory ?? throw new InvalidOperationException("data/fashion-mnist-sample not found")));

    public static ImageDataset Train => Sample.Value.Train;
    public static ImageDataset Test => Sample.Value.Test;

    /// <summary>Flatten → Linear(784, 32) → ReLU → Dropout(0.25) → Linear(32, 10); the dropout exercises the per-epoch reseeding.</summary>
    public static Module TinyNet(ulong seed)
    {
        var g = new Generator(seed);
        return new Sequential(new Flatten(), new Linear(784, 32, true, g), new ReLU(), new Dropout(0.25f), new Linear(32, 10, true, g));
    }

    public static TrainConfig Config(int epochs, string schedule = "step:0.5,0.75", string optimizer = "sgd") => new()
    {
        Model = "tiny",
        Dataset = "fashion-mnist",
        NumClasses = 10,
        Epochs = epochs,
        BatchSize = 32,
        Optimizer = optimizer,
        Lr = optimizer == "sgd" ? 0.05 : 1e-3,
        Momentum = 0.9,
        WeightDecay = 5e-4,
        Schedule = schedule,
        Seed = 7,
        LimitTrain = 256,
        LimitTest = 128,
    };

    public static string TempDir()
    {
        string dir = Path.Combine(Path.GetTempPath(), "sharpprune-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>Asserts two state dicts have the same keys and bit-identical values.</summary>
    public static void AssertBitIdentical(IReadOnlyList<KeyValuePair<string, Tensor>> expected, IReadOnlyList<KeyValuePair<string, Tensor>> actual)
    {
        Assert.Equal(expected.Select(kv => kv.Key), actual.Select(kv => kv.Key));
        for (int i = 0; i < expected.Count; i++)
        {
            var a = expected[i].Value.ToArray();
            var b = actual[i].Value.ToArray();
            Assert.Equal(a.Length, b.Length);
            for (int j = 0; j < a.Length; j++)
                if (BitConverter.SingleToInt32Bits(a[j]) != BitConverter.SingleToInt32Bits(b[j]))
                    Assert.Fail($"{expected[i].Key}[{j}]: {a[j]:R} vs {b[j]:R}");
        }
    }
}
