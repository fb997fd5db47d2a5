using SharpPrune.IO;
using SharpPrune.Pruning;
using static SharpPrune.Tests.Pruning.PruningTestModules;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// <c>prune.ln_structured(n='nuc')</c> against torch 1.13 (scripts/make_pruning_fixtures.py → nuc_masks.safetensors):
/// the channel norms within 1e-5 relative and the masks exactly; other ranks are refused as PyTorch refuses them.
/// </summary>
public class NuclearNormParityTests
{
    private static readonly Lazy<SafeTensorsFile> File = new(() => Fixtures.Load("pruning", "nuc_masks.safetensors"));
    private static Tensor Get(string name) => File.Value.Get(name);

    public static TheoryData<string, int, double> Cases() => new()
    {
        { "nuc_dim0", 0, 0.5 }, { "nuc_dim1", 1, 3 }, { "nuc_dim-1", -1, 0.5 }, { "nuc_dim2_square", 2, 0.25 }, { "nuc_dim0_rank1", 0, 2 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void MasksAndNormsMatchPytorch(string c, int dim, double amount)
    {
        Assert.Contains("n='nuc'", File.Value.Metadata["case." + c]);
        var input = Get(c + ".input");
        var norms = NuclearNorm.OfChannels(input, dim < 0 ? dim + 3 : dim);
        var expected = Get(c + ".norms").ToArray();
        Assert.Equal(expected.Length, norms.Length);
        for (int i = 0; i < norms.Length; i++)
            Assert.True(Math.Abs(norms[i] - expected[i]) <= 1e-5 * Math.Abs(expected[i]), $"{c}: channel {i} norm {norms[i]} vs PyTorch {expected[i]}");

        Amount a = amount >= 1 && amount == Math.Floor(amount) ? Amount.Absolute((int)amount) : Amount.Fraction(amount);
        var m = Prune.LnStructured(new ParamModule("Module", ("weight", input)), "weight", a, "nuc", dim);
        Assert.Equal(Get(c + ".mask").ToArray(), m["weight_mask"]!.ToArray());
    }

    [Theory]
    [InlineData(new[] { 4, 3 })]
    [InlineData(new[] { 4, 3, 2, 2 })]
    public void Other_ranks_are_refused_as_pytorch_refuses_them(int[] shape)
    {
        var m = new ParamModule("Module", ("weight", Tensor.Ones(shape)));
        var e = Assert.Throws<ArgumentException>(() => Prune.LnStructured(m, "weight", 0.5, "nuc", 0));
        Assert.Contains("nuclear norm requires a 'dim' argument of size 2", e.Message);
        Assert.False(m.TryGet("weight_mask", out _)); // rolled back: the module is left unpruned
    }
}
