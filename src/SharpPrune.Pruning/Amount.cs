using System.Globalization;

namespace SharpPrune.Pruning;

/// <summary>
/// How much to prune, with PyTorch's two meanings: an <c>int</c> is an absolute number of units, a
/// <c>double</c> a fraction in [0, 1] (so <c>1</c> prunes one unit and <c>1.0</c> prunes everything). Both
/// convert implicitly, so <c>Prune.L1Unstructured(m, "weight", 0.3)</c> and <c>(m, "weight", 3)</c> both work.
/// PyTorch's TypeError for other types ("I'm a string") is a compile-time error here. Beware C#'s conditional
/// operator: <c>cond ? 3 : 0.5</c> is a double, so 3 becomes the fraction 3.0 (refused); write
/// <c>cond ? Amount.Absolute(3) : Amount.Fraction(0.5)</c>.
/// </summary>
public readonly struct Amount : IEquatable<Amount>
{
    private readonly double _fraction;
    private readonly int _count;

    /// <summary>True for an absolute count, false for a fraction.</summary>
    public bool IsCount { get; }

    private Amount(int count) { _count = count; _fraction = 0; IsCount = true; }
    private Amount(double fraction) { _fraction = fraction; _count = 0; IsCount = false; }

    public static implicit operator Amount(int count) => new(count);

    /// <summary>A count given as a long (which would otherwise convert to a double, i.e. a fraction).</summary>
    public static implicit operator Amount(long count) =>
        count is >= int.MinValue and <= int.MaxValue ? new((int)count) : throw new ArgumentOutOfRangeException(nameof(count), $"amount={count} is too large");
    public static implicit operator Amount(double fraction) => new(fraction);

    public static Amount Absolute(int count) => new(count);
    public static Amount Fraction(double fraction) => new(fraction);

    /// <summary>The absolute count (only when <see cref="IsCount"/>).</summary>
    public int Count => IsCount ? _count : throw new InvalidOperationException($"amount={this} is a fraction, not a count");

    /// <summary>The fraction (only when not <see cref="IsCount"/>).</summary>
    public double Value => !IsCount ? _fraction : throw new InvalidOperationException($"amount={this} is a count, not a fraction");

    /// <summary>
    /// PyTorch's <c>_validate_pruning_amount_init</c>: a negative count, or a fraction outside [0, 1] (NaN too),
    /// is refused. Whether the amount fits the tensor is checked later (<see cref="ValidateAgainst"/>).
    /// </summary>
    public Amount Validate()
    {
        bool bad = IsCount ? _count < 0 : !(_fraction >= 0.0 && _fraction <= 1.0);
        if (bad)
            throw new ArgumentException($"amount={this} should either be a float in the range [0, 1] or a non-negative integer");
        return this;
    }

    /// <summary>
    /// PyTorch's <c>_compute_nparams_toprune</c>: the count itself, or <c>round(fraction * tensorSize)</c> with
    /// Python's half-to-even rounding (0.5 * 5 = 2.5 prunes 2).
    /// </summary>
    public int ComputeCount(int tensorSize) =>
        IsCount ? _count : (int)Math.Round(_fraction * tensorSize, MidpointRounding.ToEven);

    /// <summary>PyTorch's <c>_validate_pruning_amount</c>: a count larger than the units available is refused.</summary>
    public static void ValidateAgainst(Amount amount, int tensorSize)
    {
        if (amount.IsCount && amount._count > tensorSize)
            throw new ArgumentException($"amount={amount} should be smaller than the number of parameters to prune={tensorSize}");
    }

    /// <summary>The number of units to prune out of <paramref name="tensorSize"/>, checked against it.</summary>
    public int CountFor(int tensorSize)
    {
        int k = ComputeCount(tensorSize);
        ValidateAgainst(k, tensorSize);
        return k;
    }

    /// <summary>Python's repr: "3", "0.3", "1.0".</summary>
    public override string ToString() => IsCount ? _count.ToString(CultureInfo.InvariantCulture) : PyFormat.Repr(_fraction);

    public bool Equals(Amount other) => IsCount == other.IsCount && _count == other._count && _fraction.Equals(other._fraction);
    public override bool Equals(object? obj) => obj is Amount a && Equals(a);
    public override int GetHashCode() => HashCode.Combine(IsCount, _count, _fraction);
    public static bool operator ==(Amount a, Amount b) => a.Equals(b);
    public static bool operator !=(Amount a, Amount b) => !a.Equals(b);
}
