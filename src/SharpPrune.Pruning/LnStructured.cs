using System.Globalization;

namespace SharpPrune.Pruning;

/// <summary>
/// Zeroes the <see cref="Amount"/> channels along <see cref="Dim"/> with the smallest L<c>n</c> norm (PyTorch's
/// <c>prune.LnStructured</c>). <c>n</c> is any p accepted by <c>torch.norm</c> as a vector norm: 1, 2, any
/// real p, +∞ (max |x|), −∞ (min |x|), 0 (count of non-zeros), "fro" (= 2 over the channel's entries) and "nuc"
/// (the nuclear norm, a matrix norm: as in PyTorch it needs exactly two dims besides <c>dim</c>, so a 3-D tensor;
/// others are refused with PyTorch's message). Among channels of equal norm the lower
/// index is kept first; PyTorch's <c>topk</c> leaves that order unspecified.
/// </summary>
public class LnStructured : StructuredPruningMethod
{
    /// <summary>The Frobenius norm ("fro"): the 2-norm of the flattened channel.</summary>
    public const double Frobenius = 2.0;

    private readonly string _nText;

    /// <summary>The norm order p (NaN for the nuclear norm, see <see cref="IsNuclear"/>).</summary>
    public double N { get; }

    /// <summary>Whether the norm is PyTorch's "nuc": the sum of singular values of each channel's matrix.</summary>
    public bool IsNuclear { get; }

    public LnStructured(Amount amount, double n, int dim = -1) : base(amount, dim)
    {
        if (double.IsNaN(n)) throw new ArgumentException("LnStructured: norm order n must not be NaN");
        N = n;
        _nText = double.IsInfinity(n) ? (n > 0 ? "inf" : "-inf") : n.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>With a named norm: "fro" (PyTorch's Frobenius norm) or "nuc" (the nuclear norm).</summary>
    public LnStructured(Amount amount, string n, int dim = -1) : this(amount, ParseNorm(n), dim)
    {
        IsNuclear = n == "nuc";
        if (IsNuclear) N = double.NaN;
        _nText = $"'{n}'";
    }

    private static double ParseNorm(string n) => n switch
    {
        "fro" => Frobenius,
        "nuc" => 1, // placeholder for the numeric constructor's checks; IsNuclear decides
        _ => throw new ArgumentException($"LnStructured: unsupported norm '{MessageText.Name(n)}'; use a number, double.PositiveInfinity, double.NegativeInfinity, \"fro\" or \"nuc\""),
    };

    protected override IEnumerable<int> KeptChannels(Tensor t, int dim, int channels, int pruneCount)
    {
        float[] norms;
        if (IsNuclear)
        {
            // torch.norm(p='nuc', dim=...) takes exactly two dims; the reduced dims are all but one.
            if (t.Dim != 3)
                throw new ArgumentException(
                    $"nuclear norm requires a 'dim' argument of size 2: n='nuc' reduces the dims other than {dim}, so it needs a 3-D tensor, got shape {Shapes.Format(t.Shape)}");
            norms = NuclearNorm.OfChannels(t, dim);
        }
        else norms = t.Norm(N, Enumerable.Range(0, t.Dim).Where(d => d != dim).ToArray()).Data.ToArray();
        return Selection.Largest(norms, channels - pruneCount);
    }

    public override string ToString() => $"LnStructured(amount={Amount}, n={_nText}, dim={Dim})";
}
