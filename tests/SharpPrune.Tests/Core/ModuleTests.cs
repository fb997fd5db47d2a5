using System.Text.Json;
using SharpPrune.NN;

namespace SharpPrune.Tests.Core;

/// <summary>Module registration, naming, traversal order, hooks, modes and state dicts (PyTorch's semantics).</summary>
public class ModuleTests
{
    /// <summary>The same registration order as Block in scripts/make_core_fixtures.py (modules()).</summary>
    private sealed class Block : Module
    {
        public Block()
        {
            var g = new Generator(3);
            RegisterModule("conv", new Conv2d(2, 3, 3, bias: false, generator: g));
            RegisterBuffer("scale", Tensor.Ones(3));
            RegisterBuffer("scratch", Tensor.Zeros(3), persistent: false);
            AddParameter("gate", Tensor.Ones(3));
            RegisterModule("head", new Sequential(new Linear(3, 4, generator: g), new ReLU(), new Linear(4, 2, generator: g)));
        }

        protected override Tensor ForwardCore(Tensor input) => input;
    }

    private sealed class Net : Module
    {
        public Net()
        {
            RegisterModule("features", new Sequential(new Conv2d(1, 2, 3, generator: new Generator(1)), new ReLU()));
            RegisterModule("block", new Block());
            RegisterModule("classifier", new Linear(2, 5, generator: new Generator(2)));
        }

        protected override Tensor ForwardCore(Tensor input) => input;
    }

    private static CoreFixture Fx => CoreFixture.Get("modules.safetensors");
    private static List<string> MetaList(string key) => JsonSerializer.Deserialize<List<string>>(Fx.Metadata[key])!;

    [Fact]
    public void NamesAndOrdersMatchPyTorch()
    {
        var net = new Net();
        Assert.Equal(MetaList("named_modules"), net.NamedModules().Select(m => m.Name));
        Assert.Equal(MetaList("named_parameters"), net.NamedParameters().Select(p => p.Name));
        Assert.Equal(MetaList("named_buffers"), net.NamedBuffers().Select(b => b.Name));
        var file = Fixtures.Load("core", "modules.safetensors");
        Assert.Equal(file.Tensors.Select(kv => kv.Key), net.StateDict().Select(kv => kv.Key));
    }

    private sealed class Net2 : Module
    {
        public Net2()
        {
            RegisterModule("features", new Sequential(
                new Conv2d(3, 8, 3, padding: 1, bias: false), new BatchNorm2d(8), new ReLU(), new MaxPool2d(2),
                new Conv2d(8, 8, (3, 1), (2, 2), (0, 0), (2, 1), groups: 4), new AvgPool2d(2),
                new AdaptiveAvgPool2d((1, 1)), new AdaptiveAvgPool2d(2)));
            RegisterModule("classifier", new Sequential(
                new Flatten(), new Dropout(0.25f), new Linear(8, 10), new BatchNorm1d(10, momentum: null), new Identity(),
                new Linear(10, 2, bias: false)));
        }

        protected override Tensor ForwardCore(Tensor input) => input;
    }

    [Fact]
    public void ReprMatchesPyTorch() => Assert.Equal(Fx.Metadata["repr"], new Net2().ToString());

    [Fact]
    public void LoadStateDictCopiesEveryValueInPlace()
    {
        var net = new Net();
        var w = net.GetSubmodule("block.head.0")["weight"]!;
        var file = Fixtures.Load("core", "modules.safetensors");
        var result = net.LoadStateDict(file.Tensors);
        Assert.Empty(result.MissingKeys);
        Assert.Empty(result.UnexpectedKeys);
        Assert.Same(w, net.GetSubmodule("block.head.0")["weight"]); // same parameter object, new values
        foreach (var (k, v) in net.StateDict())
            Assert.True(v.Equal(file.Tensors.First(kv => kv.Key == k).Value), $"value of {k} after LoadStateDict");
    }

    [Fact]
    public void SequentialNamesChildrenByIndex()
    {
        var seq = new Sequential(new Conv2d(1, 2, 3), new ReLU(), new Sequential(new Linear(2, 2), new Linear(2, 1, bias: false)));
        Assert.Equal(new[] { "0.weight", "0.bias", "2.0.weight", "2.0.bias", "2.1.weight" }, seq.NamedParameters().Select(p => p.Name));
        Assert.Equal(new[] { "", "0", "1", "2", "2.0", "2.1" }, seq.NamedModules().Select(m => m.Name));
        Assert.Same(seq[2], seq.GetSubmodule("2"));
        Assert.IsType<Linear>(seq.GetSubmodule("2.1"));
        var ex = Assert.Throws<KeyNotFoundException>(() => seq.GetSubmodule("2.7"));
        Assert.Contains("'7'", ex.Message);
    }

    [Fact]
    public void SharedModuleIsListedOnceButSavedUnderEveryName()
    {
        var a = new Linear(2, 2);
        var seq = new Sequential(a, new ReLU(), a);
        Assert.Equal(MetaList("shared_module.named_parameters"), seq.NamedParameters().Select(p => p.Name));
        Assert.Equal(MetaList("shared_module.named_modules"), seq.NamedModules().Select(m => m.Name));
        Assert.Equal(MetaList("shared_module.state_dict"), seq.StateDict().Select(kv => kv.Key));
        // A PyTorch state dict of the shared model loads strictly.
        var sd = seq.StateDict().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Clone().Fill_(0.5f))).ToList();
        seq.LoadStateDict(sd);
        Assert.All(a.Weight.ToArray(), v => Assert.Equal(0.5f, v));
    }

    private sealed class Holder : Module
    {
        public Holder(Tensor? buffer = null) { if (buffer != null) RegisterBuffer("b", buffer); }
        protected override Tensor ForwardCore(Tensor input) => input;
    }

    [Fact]
    public void SharedBufferIsListedOnceButSavedUnderEveryName()
    {
        var buf = Tensor.Ones(2);
        var both = new Holder();
        both.RegisterModule("c1", new Holder(buf));
        both.RegisterModule("c2", new Holder(buf));
        Assert.Equal(MetaList("shared_buffer.named_buffers"), both.NamedBuffers().Select(b => b.Name));
        Assert.Equal(MetaList("shared_buffer.state_dict"), both.StateDict().Select(kv => kv.Key));
    }

    [Fact]
    public void TrainAndEvalPropagateToEveryDescendant()
    {
        var net = new Net();
        Assert.All(net.Modules(), m => Assert.True(m.Training));
        net.Eval();
        Assert.All(net.Modules(), m => Assert.False(m.Training));
        net.GetSubmodule("block").Train();
        Assert.False(net.Training);
        Assert.True(net.GetSubmodule("block.head.2").Training);
        Assert.False(net.GetSubmodule("features.0").Training);
        net.Train();
        Assert.All(net.Modules(), m => Assert.True(m.Training));
    }

    [Fact]
    public void NonPersistentBuffersStayOutOfTheStateDict()
    {
        var b = new Block();
        Assert.Contains("scratch", b.NamedBuffers().Select(x => x.Name));
        Assert.DoesNotContain("scratch", b.StateDict().Select(x => x.Key));
        Assert.Equal(new[] { "gate", "scale", "conv.weight", "head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias" },
            b.StateDict().Select(x => x.Key));
    }

    [Fact]
    public void PreHookCanReplaceTheInputAndHandlesRemoveHooks()
    {
        var lin = new Linear(3, 2, generator: new Generator(5));
        var x = Tensor.Ones(1, 3);
        var plain = lin.Forward(x).ToArray();
        var calls = new List<string>();
        var h1 = lin.RegisterForwardPreHook((m, input) => { calls.Add("pre1"); return input.MulScalar(0); });
        var h2 = lin.RegisterForwardPreHook((m, input) => { calls.Add("pre2"); return null; });
        Tensor? hookInput = null;
        var h3 = lin.RegisterForwardHook((m, input, output) => { calls.Add("post"); hookInput = input; return null; });
        var y = lin.Forward(x);
        Assert.Equal(new[] { "pre1", "pre2", "post" }, calls);
        Assert.Equal(0, hookInput!.CountNonZero()); // the forward hook sees the replaced input
        Assert.Equal(lin.Bias!.ToArray(), y.ToArray()); // zeroed input: only the bias is left
        Assert.Equal(new[] { h1.Id, h2.Id }, lin.ForwardPreHooks.Keys);

        h1.Remove();
        h1.Remove(); // removing twice is harmless
        Assert.Equal(plain, lin.Forward(x).ToArray());
        Assert.True(lin.RemoveForwardPreHook(h2.Id));
        Assert.False(lin.RemoveForwardPreHook(h2.Id));
        h3.Dispose();
        calls.Clear();
        lin.Forward(x);
        Assert.Empty(calls);
    }

    [Fact]
    public void ForwardHookCanReplaceTheOutputAndRunsForNestedModules()
    {
        var inner = new Linear(2, 2, generator: new Generator(6));
        var seq = new Sequential(inner, new ReLU());
        int seen = 0;
        using (inner.RegisterForwardHook((m, i, o) => { seen++; Assert.Same(inner, m); return o.MulScalar(0).AddScalar(-1); }))
        {
            var y = seq.Forward(Tensor.Ones(3, 2));
            Assert.Equal(1, seen);
            Assert.Equal(0, y.CountNonZero()); // relu(-1) = 0: the replaced output flowed on
        }
        var x = Tensor.Ones(3, 2);
        Assert.Equal(F.Linear(x, inner.Weight, inner.Bias).Relu().ToArray(), seq.Forward(x).ToArray()); // hook gone
        Assert.Equal(1, seen);
    }

    [Fact]
    public void AttributeAccessFollowsParameterBufferPlainOrder()
    {
        var lin = new Linear(2, 2);
        var w = lin["weight"]!;
        Assert.True(lin.HasParameter("weight"));
        lin.DeleteAttribute("weight");
        Assert.False(lin.HasParameter("weight"));
        var plain = Tensor.Ones(2, 2);
        lin["weight"] = plain; // becomes a plain attribute (what pruning's recomputed weight is)
        Assert.Same(plain, lin.Weight);
        Assert.DoesNotContain("weight", lin.StateDict().Select(k => k.Key));
        Assert.Throws<KeyNotFoundException>(() => lin["nothing"]);
        Assert.Throws<KeyNotFoundException>(() => lin.DeleteAttribute("nothing"));
        Assert.NotSame(w, lin.Weight);
    }

    [Fact]
    public void RegistrationRejectsBadNamesAndClashes()
    {
        var b = new Block();
        Assert.Contains("'.'", Assert.Throws<ArgumentException>(() => b.RegisterBuffer("a.b", Tensor.Ones(1))).Message);
        Assert.Contains("scale", Assert.Throws<ArgumentException>(() => b.RegisterParameter("scale", Tensor.Ones(1))).Message);
        Assert.Contains("gate", Assert.Throws<ArgumentException>(() => b.RegisterBuffer("gate", Tensor.Ones(1))).Message);
        var nonLeaf = Tensor.Ones(1).RequiresGrad_() * 2f;
        Assert.Contains("non-leaf", Assert.Throws<ArgumentException>(() => b.RegisterParameter("p", nonLeaf)).Message);
    }

    [Fact]
    public void HooksAreRemovedByIdOrHandleAlike()
    {
        var m = new ReLU();
        int pre = 0, post = 0;
        var h1 = m.RegisterForwardPreHook((_, _) => { pre++; return null; });
        var h2 = m.RegisterForwardHook((_, _, _) => { post++; return null; });
        var h3 = m.RegisterForwardHook((_, _, _) => { post += 10; return null; });
        m.Forward(Tensor.Ones(2));
        Assert.Equal((1, 11), (pre, post));
        Assert.True(m.RemoveForwardPreHook(h1.Id));
        Assert.True(m.RemoveForwardHook(h2.Id));
        Assert.False(m.RemoveForwardHook(h2.Id));
        h3.Dispose();
        Assert.Empty(m.ForwardHooks);
        m.Forward(Tensor.Ones(2));
        Assert.Equal((1, 11), (pre, post));
    }

    [Fact]
    public void TheStateDictIsAReadOnlyViewOfTheLiveTensors()
    {
        var lin = new Linear(2, 3, generator: new Generator(1));
        var sd = lin.StateDict();
        Assert.Equal(new[] { "weight", "bias" }, sd.Select(kv => kv.Key));
        Assert.Same(lin.Weight, sd[0].Value);
        Assert.IsNotType<List<KeyValuePair<string, Tensor>>>(sd); // cannot be cast back and edited
        Assert.Throws<NotSupportedException>(() => ((IList<KeyValuePair<string, Tensor>>)sd).Add(new("x", Tensor.Ones(1))));
    }
}
