using System.Globalization;

namespace SharpPrune.Pruning;

/// <summary>
/// Zeroes the <see cref="Amount"/> channels along <see cref="Dim"/> with the smallest L<c>n</c> norm (PyTorch's
/// <c>prune.LnStructured</c>). <c>n</c> is any p accepted by <c>torch.norm</c> as a vector norm: 1, 2, any
/// real p, +∞ (max |x|), −∞ (min |x|), 0 (count of non-zeros) and "fro" (= 2 over the channel's entries).
/// PyTorch's "nuc" needs exactly two reduced dims and is not supported. Among channels of equal norm the lower
/// index is kept first; PyTorch's <c>topk</c> leaves that order unspecified.
/// </summary>
public class LnStructured : StructuredPruningMethod
{
    /// <summary>The Frobenius norm ("fro"): the 2-norm of the flattened channel.</summary>
    public const double Frobenius = 2.0;

    private readonly string _nText;

    /// <summary>The norm order p.</summary>
    public double N { get; }

    public LnStructured(Amount amount, double n, int dim = -1) : base(amount, dim)
    {
        if (double.IsNaN(n)) throw new ArgumentException("LnStructured: norm order n must not be NaN");
        N = n;
        _nText = double.IsInfinity(n) ? (n > 0 ? "inf" : "-inf") : n.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>With a named norm: only "fro" (PyTorch's Frobenius norm) is accepted.</summary>
    public LnStructured(Amount amount, string n, int dim = -1) : this(amount, ParseNorm(n), dim) => _nText = "'fro'";

    private static double ParseNorm(string n) => n == "fro"
        ? Frobenius
        : throw new ArgumentException($"LnStructured: unsupported norm '{n}'; use a number, double.PositiveInfinity, double.NegativeInfinity or \"fro\"");

    protected override IEnumerable<int> KeptChannels(Tensor t, int dim, int channels, int pruneCount)
    {
        var norms = t.Norm(N, Enumerable.Range(0, t.Dim).Where(d => d != dim).ToArray());
        return Selection.Largest(norms.Data, channels - pruneCount);
    }

    public override string ToString() => $"LnStructured(amount={Amount}, n={_nText}, dim={Dim})";
}
