using SharpPrune.Autograd;
using SharpPrune.NN;
using SharpPrune.Vision.Models;

namespace SharpPrune.Tests.Vision.Models;

/// <summary>
/// Shrinking a network replaces its layers by name (<see cref="Module.RegisterModule{T}"/>). For every container of
/// every zoo architecture, each child is replaced in turn by a wrapper around it: the forward must run the wrapper
/// (and give the same output), its hooks must fire, and the state dict must name the wrapped tensors.
/// </summary>
public class ReplaceChildTests
{
    /// <summary>Runs the module it replaced, counting its calls.</summary>
    private sealed class Wrapper : Module
    {
        public int Calls;
        public Wrapper(Module inner) => RegisterModule("inner", inner);
        protected override Tensor ForwardCore(Tensor input) { Calls++; return GetSubmodule("inner").Forward(input); }
    }

    public static TheoryData<string> Architectures => new() { "lenet5", "lenet300", "alexnet", "vgg11", "resnet20", "preresnet110" };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ReplacingAnyChildOfAnyContainerChangesForwardStateDictAndHooksAlike(string name)
    {
        var model = ModelZoo.Create(name, 10, new Generator(3));
        model.Eval();
        var x = Tensor.Randn(new Generator(4), [1, .. ModelZoo.InputShape(name)]);
        var expected = Run(model, x, grad: false);
        var expectedKeys = model.StateDict().Select(kv => kv.Key).ToArray();
        var expectedValues = model.StateDict().Select(kv => kv.Value).ToArray();

        int replaced = 0;
        foreach (var (path, container) in Representatives(model))
            foreach (var (child, original) in container.NamedChildren().ToArray())
            {
                var wrapper = container.RegisterModule(child, new Wrapper(original));
                int hookCalls = 0;
                using (wrapper.RegisterForwardHook((_, _, _) => { hookCalls++; return null; }))
                {
                    string where = $"{name}: {Join(path, child)}";
                    foreach (bool grad in new[] { false, true })
                    {
                        wrapper.Calls = hookCalls = 0;
                        Assert.True(expected.SequenceEqual(Run(model, x, grad)), $"{where}: output changed (grad={grad})");
                        Assert.True(wrapper.Calls > 0, $"{where}: the replacement did not run (grad={grad})");
                        Assert.Equal(wrapper.Calls, hookCalls);
                    }
                    string oldPrefix = Join(path, child) + ".", newPrefix = Join(path, child) + ".inner.";
                    var keys = expectedKeys.Select(k => k.StartsWith(oldPrefix, StringComparison.Ordinal) ? newPrefix + k[oldPrefix.Length..] : k);
                    Assert.Equal(keys, model.StateDict().Select(kv => kv.Key));
                    Assert.Equal(expectedValues, model.StateDict().Select(kv => kv.Value)); // the same live tensors
                }
                container.RegisterModule(child, original);
                replaced++;
            }
        Assert.True(replaced >= 5, $"only {replaced} children replaced");
        Assert.Equal(expectedKeys, model.StateDict().Select(kv => kv.Key));
    }

    [Fact]
    public void TypedChildPropertiesReadTheRegistry()
    {
        var resnet = new ResNet(20, 10, new Generator(1));
        var block = (BasicBlock)((Sequential)resnet.Layer2)[0];
        Assert.Same(resnet.GetSubmodule("layer2.0.downsample"), block.Downsample);
        var conv = new Conv2d(16, 32, 3, stride: 2, padding: 1, bias: false, generator: new Generator(2));
        block.RegisterModule("conv1", conv);
        Assert.Same(conv, block.Conv1);
        var first = (BasicBlock)((Sequential)resnet.Layer1)[0];
        Assert.Null(first.Downsample);
        var shortcut = first.RegisterModule("downsample", new Identity()); // added after the first forward-less lookup
        Assert.Same(shortcut, first.Downsample);

        var vgg = new Vgg(11, 10, new Generator(1));
        var features = new Sequential(vgg.Features.Layers.ToArray());
        vgg.RegisterModule("features", features);
        Assert.Same(features, vgg.Features);
        vgg.RegisterModule("classifier", new Identity());
        Assert.Throws<InvalidOperationException>(() => vgg.Classifier); // names both types
    }

    /// <summary>The model and, per container type and set of child names, its first instance (each stage's first block differs).</summary>
    private static IEnumerable<(string Path, Module Container)> Representatives(Module model)
    {
        var seen = new HashSet<string>();
        foreach (var (path, m) in model.NamedModules())
        {
            var names = m.NamedChildren().Select(c => c.Name).ToArray();
            if (names.Length == 0) continue;
            if (m == model || seen.Add(m.GetType().Name + ":" + string.Join(",", names))) yield return (path, m);
        }
    }

    private static float[] Run(Module model, Tensor x, bool grad)
    {
        if (grad) return model.Forward(x).ToArray();
        using var _ = GradMode.NoGrad();
        return model.Forward(x).ToArray();
    }

    private static string Join(string a, string b) => a.Length == 0 ? b : a + "." + b;
}
