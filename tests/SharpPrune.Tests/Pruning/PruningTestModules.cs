using SharpPrune.NN;
using SharpPrune.Pruning;

namespace SharpPrune.Tests.Pruning;

/// <summary>A bare module holding given tensors as parameters, for pruning arbitrary shapes.</summary>
internal sealed class ParamModule : Module
{
    private readonly string _typeName;

    public ParamModule(string typeName, params (string Name, Tensor Value)[] parameters)
    {
        _typeName = typeName;
        foreach (var (n, v) in parameters) AddParameter(n, v.Clone());
    }

    /// <summary>Registers <paramref name="value"/> itself (no copy), for large tensors built for the purpose.</summary>
    public ParamModule With(string name, Tensor value)
    {
        AddParameter(name, value);
        return this;
    }

    public override string TypeName => _typeName;

    protected override Tensor ForwardCore(Tensor input) => throw new InvalidOperationException($"{_typeName} stand-in has no forward");
}

/// <summary>Mocks of PyTorch's tests (<c>mock.patch(...compute_mask)</c>) as subclasses.</summary>
internal sealed class FixedMaskRandomUnstructured(Amount amount, Tensor mask) : RandomUnstructured(amount)
{
    public override Tensor ComputeMask(Tensor t, Tensor defaultMask) => mask.Clone();
}

internal sealed class FailingL1Unstructured(Amount amount) : L1Unstructured(amount)
{
    public override Tensor ComputeMask(Tensor t, Tensor defaultMask) => throw new InvalidOperationException("HA!");
}

internal static class PruningTestModules
{
    /// <summary>
    /// PyTorch's tests use <c>nn.Linear(5, 7)</c> and <c>nn.Conv3d(2, 2, 2)</c>; there is no Conv3d here, so a
    /// stand-in holds parameters of Conv3d's shapes (5-D weight (2, 2, 2, 2, 2), bias (2,)).
    /// </summary>
    public static Module[] LinearAndConv3d(ulong seed = 0)
    {
        var g = new Generator(seed);
        return new Module[]
        {
            new Linear(5, 7, generator: g),
            new ParamModule("Conv3d", ("weight", Tensor.Randn(g, 2, 2, 2, 2, 2)), ("bias", Tensor.Randn(g, 2))),
        };
    }

    public static readonly string[] Names = { "weight", "bias" };

    public static Tensor T(float[,] v)
    {
        int r = v.GetLength(0), c = v.GetLength(1);
        var a = new float[r * c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) a[i * c + j] = v[i, j];
        return new Tensor(a, r, c);
    }

    /// <summary>Replaces a parameter's values in place (PyTorch's <c>m.weight.data = ...</c>).</summary>
    public static void SetData(Module m, string name, Tensor values) => m[name]!.CopyFrom(values);

    public static void AssertTensor(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.ShapeCopy(), actual.ShapeCopy());
        Assert.Equal(expected.ToArray(), actual.ToArray());
    }

    public static Dictionary<string, Tensor> Params(Module m) => m.NamedParameters().ToDictionary(p => p.Name, p => p.Parameter);
    public static Dictionary<string, Tensor> Buffers(Module m) => m.NamedBuffers().ToDictionary(p => p.Name, p => p.Buffer);
}
