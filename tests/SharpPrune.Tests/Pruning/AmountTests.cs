using SharpPrune.Pruning;

namespace SharpPrune.Tests.Pruning;

/// <summary>
/// PyTorch's amount helpers: test_validate_pruning_amount_init, test_validate_pruning_amount,
/// test_compute_nparams_to_prune. PyTorch's TypeError for a string amount is a compile-time error here.
/// </summary>
public class AmountTests
{
    [Theory] // test_validate_pruning_amount_init: invalid amounts, with PyTorch's message
    [InlineData(1.1, "amount=1.1 should either be a float in the range [0, 1] or a non-negative integer")]
    [InlineData(20.0, "amount=20.0 should either be a float in the range [0, 1] or a non-negative integer")]
    [InlineData(-0.1, "amount=-0.1 should either be a float in the range [0, 1] or a non-negative integer")]
    [InlineData(double.NaN, "amount=nan should either be a float in the range [0, 1] or a non-negative integer")]
    public void ValidateInitRejectsFractionsOutsideZeroOne(double amount, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => ((Amount)amount).Validate());
        Assert.Equal(message, e.Message);
    }

    [Fact]
    public void ValidateInitRejectsNegativeCount()
    {
        var e = Assert.Throws<ArgumentException>(() => ((Amount)(-10)).Validate());
        Assert.Equal("amount=-10 should either be a float in the range [0, 1] or a non-negative integer", e.Message);
        // and every method constructor validates at construction, as PyTorch's __init__ does
        Assert.Throws<ArgumentException>(() => new L1Unstructured(-1));
        Assert.Throws<ArgumentException>(() => new RandomUnstructured(1.5));
        Assert.Throws<ArgumentException>(() => new RandomStructured(-2, 0));
        Assert.Throws<ArgumentException>(() => new LnStructured(2.0, 2, 0));
    }

    [Fact] // test_validate_pruning_amount_init: valid amounts
    public void ValidateInitAcceptsValidAmounts()
    {
        foreach (var a in new Amount[] { 0.34, 1500, 0, 0.0, 1, 1.0 })
            Assert.Equal(a, a.Validate());
    }

    [Fact] // test_validate_pruning_amount
    public void ValidateAgainstTensorSize()
    {
        var e = Assert.Throws<ArgumentException>(() => Amount.ValidateAgainst(20, 19));
        Assert.Equal("amount=20 should be smaller than the number of parameters to prune=19", e.Message);
        Amount.ValidateAgainst(0.3, 0); // a fraction never exceeds the tensor
        Amount.ValidateAgainst(19, 20);
        Amount.ValidateAgainst(0, 0);
        Amount.ValidateAgainst(1, 1);
    }

    [Fact] // test_compute_nparams_to_prune
    public void ComputeCount()
    {
        Assert.Equal(0, ((Amount)0).ComputeCount(15));
        Assert.Equal(10, ((Amount)10).ComputeCount(15));
        Assert.Equal(1, ((Amount)1).ComputeCount(15)); // int 1 is one unit
        Assert.Equal(15, ((Amount)1.0).ComputeCount(15)); // float 1.0 is all of them
        Assert.Equal(7, ((Amount)0.4).ComputeCount(17));
    }

    [Theory] // Python's round() is half-to-even
    [InlineData(0.5, 5, 2)]   // 2.5 -> 2
    [InlineData(0.5, 3, 2)]   // 1.5 -> 2
    [InlineData(0.1, 5, 0)]   // 0.5 -> 0
    [InlineData(0.3, 5, 2)]   // 1.5 -> 2
    [InlineData(0.25, 10, 2)] // 2.5 -> 2
    [InlineData(0.35, 10, 4)] // 0.35 * 10 == 3.5 in double -> 4
    public void FractionRoundsHalfToEven(double amount, int size, int expected) =>
        Assert.Equal(expected, ((Amount)amount).ComputeCount(size));

    [Fact]
    public void CountTooLargeForTheTensorFailsWhenPruning()
    {
        var m = new ParamModule("Linear", ("weight", Tensor.Ones(3, 3)));
        var e = Assert.Throws<ArgumentException>(() => Prune.L1Unstructured(m, "weight", 10));
        Assert.Equal("amount=10 should be smaller than the number of parameters to prune=9", e.Message);
        Assert.True(m.HasParameter("weight")); // and nothing changed
        Assert.False(Prune.IsPruned(m));
    }

    [Fact]
    public void IntAndDoubleConvertImplicitly()
    {
        Amount count = 3, fraction = 0.3;
        Assert.True(count.IsCount);
        Assert.Equal(3, count.Count);
        Assert.False(fraction.IsCount);
        Assert.Equal(0.3, fraction.Value);
        Assert.Equal("3", count.ToString());
        Assert.Equal("0.3", fraction.ToString());
        Assert.Equal("1.0", ((Amount)1.0).ToString());
        Assert.NotEqual((Amount)1, (Amount)1.0);
        Assert.Throws<InvalidOperationException>(() => fraction.Count);
        Amount fromLong = 5L; // a long is a count, not the fraction 5.0
        Assert.True(fromLong.IsCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => (Amount)(1L << 40));
    }
}
