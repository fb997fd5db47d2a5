using SharpPrune.Pruning;

namespace SharpPrune.Tests.Pruning;

/// <summary>Python's f-string number formatting, which the report and messages reproduce.</summary>
public class PyFormatTests
{
    [Theory] // expected values are Python's f"{v:.2f}"
    [InlineData(84.0, "84.00")]
    [InlineData(5.027329921722412, "5.03")]
    [InlineData(0.125, "0.12")]   // exact binary midpoint: half-to-even (.NET's "F2" gives 0.13)
    [InlineData(0.375, "0.38")]
    [InlineData(2.675, "2.67")]   // 2.67499999... in binary
    [InlineData(1.005, "1.00")]
    [InlineData(99.995, "100.00")] // 99.99500000000000454747350886464... rounds up
    [InlineData(0.0, "0.00")]
    [InlineData(-0.0, "-0.00")]
    [InlineData(-1.5, "-1.50")]
    [InlineData(1e20, "100000000000000000000.00")]
    public void FixedMatchesPython(double v, string expected) => Assert.Equal(expected, PyFormat.Fixed(v, 2));

    [Fact]
    public void FixedPadsAndHandlesNonFinite()
    {
        Assert.Equal(" 84.00", PyFormat.Fixed(84.0, 2, 6));
        Assert.Equal("100.00", PyFormat.Fixed(100.0, 2, 6));
        Assert.Equal("     10.87", PyFormat.Fixed(20344650.0 / 1871484, 2, 10));
        Assert.Equal("       inf", PyFormat.Fixed(double.PositiveInfinity, 2, 10));
        Assert.Equal("nan", PyFormat.Fixed(double.NaN, 2));
        Assert.Equal("2", PyFormat.Fixed(2.5, 0)); // Python: f"{2.5:.0f}" == '2'
        Assert.Equal("4", PyFormat.Fixed(3.5, 0));
    }

    [Theory] // Python's repr(float)
    [InlineData(0.3, "0.3")]
    [InlineData(1.0, "1.0")]
    [InlineData(20.0, "20.0")]
    [InlineData(-0.1, "-0.1")]
    [InlineData(1e-05, "1e-05")]
    [InlineData(0.1 + 0.2, "0.30000000000000004")]
    public void ReprMatchesPython(double v, string expected) => Assert.Equal(expected, PyFormat.Repr(v));
}
