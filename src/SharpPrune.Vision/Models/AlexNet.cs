using SharpPrune.NN;

namespace SharpPrune.Vision.Models;

/// <summary>
/// AlexNet for 3×32×32 CIFAR inputs with the layer shapes of the AlexNet/CIFAR-10 pruning benchmark
/// (20,344,650 parameters): conv1 64@11×11 s4 p5 → 8×8, pool → 4×4, conv2 192@5×5 p2, pool → 2×2,
/// conv3 384@3×3, conv4 256@3×3, conv5 256@3×3 (pad 1), pool → 1×1, then dropout → fc1 256→4096 → ReLU →
/// dropout → fc2 4096→4096 → ReLU → fc3 4096→classes. PyTorch's default init.
/// </summary>
public sealed class AlexNet : Sequential
{
    public AlexNet(int numClasses = 10, Generator? generator = null, float dropout = 0.5f)
        : base(Build(numClasses, generator, dropout)) { }

    private static IEnumerable<(string, Module)> Build(int numClasses, Generator? g, float p) => new (string, Module)[]
    {
        ("conv1", new Conv2d(3, 64, 11, stride: 4, padding: 5, generator: g)), ("relu1", new ReLU(inplace: true)), ("pool1", new MaxPool2d(2)),
        ("conv2", new Conv2d(64, 192, 5, padding: 2, generator: g)), ("relu2", new ReLU(inplace: true)), ("pool2", new MaxPool2d(2)),
        ("conv3", new Conv2d(192, 384, 3, padding: 1, generator: g)), ("relu3", new ReLU(inplace: true)),
        ("conv4", new Conv2d(384, 256, 3, padding: 1, generator: g)), ("relu4", new ReLU(inplace: true)),
        ("conv5", new Conv2d(256, 256, 3, padding: 1, generator: g)), ("relu5", new ReLU(inplace: true)), ("pool5", new MaxPool2d(2)),
        ("flatten", new Flatten()),
        ("drop1", new Dropout(p) { Generator = g }), ("fc1", new Linear(256, 4096, generator: g)), ("relu6", new ReLU(inplace: true)),
        ("drop2", new Dropout(p) { Generator = g }), ("fc2", new Linear(4096, 4096, generator: g)), ("relu7", new ReLU(inplace: true)),
        ("fc3", new Linear(4096, numClasses, generator: g)),
    };
}
