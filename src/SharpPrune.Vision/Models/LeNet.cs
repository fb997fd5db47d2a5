using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// LeNet-5 for 1×28×28 inputs (the pruning benchmarks' variant, no padding): conv 6@5×5 → ReLU → max-pool 2 →
/// conv 16@5×5 → ReLU → max-pool 2 → fc 256→120 → 84 → classes. Layer names follow the PyTorch tutorial
/// (conv1, conv2, fc1, fc2, fc3); with 28×28 inputs fc1 takes 16·4·4 = 256 features. PyTorch's default init.
/// </summary>
public sealed class LeNet5 : Sequential
{
    public LeNet5(int numClasses = 10, Generator? generator = null) : base(Build(numClasses, generator)) { }

    private static IEnumerable<(string, Module)> Build(int numClasses, Generator? g) => new (string, Module)[]
    {
        ("conv1", new Conv2d(1, 6, 5, generator: g)), ("relu1", new ReLU()), ("pool1", new MaxPool2d(2)),
        ("conv2", new Conv2d(6, 16, 5, generator: g)), ("relu2", new ReLU()), ("pool2", new MaxPool2d(2)),
        ("flatten", new Flatten()),
        ("fc1", new Linear(16 * 4 * 4, 120, generator: g)), ("relu3", new ReLU()),
        ("fc2", new Linear(120, 84, generator: g)), ("relu4", new ReLU()),
        ("fc3", new Linear(84, numClasses, generator: g)),
    };
}

/// <summary>LeNet-300-100 (LeCun et al. 1998; Han et al. 2015): 784 → 300 → 100 → classes, ReLU between.</summary>
public sealed class LeNet300_100 : Sequential
{
    public LeNet300_100(int numClasses = 10, Generator? generator = null) : base(Build(numClasses, generator)) { }

    private static IEnumerable<(string, Module)> Build(int numClasses, Generator? g) => new (string, Module)[]
    {
        ("flatten", new Flatten()),
        ("fc1", new Linear(784, 300, generator: g)), ("relu1", new ReLU()),
        ("fc2", new Linear(300, 100, generator: g)), ("relu2", new ReLU()),
        ("fc3", new Linear(100, numClasses, generator: g)),
    };
}
