using System.Globalization;
using System.Numerics;

namespace SharpPrune.Pruning;

/// <summary>
/// Python's number formatting, reproduced exactly so reports and messages read character for character like
/// the PyTorch scripts they replace: <c>f"{x:6.2f}"</c> rounds the exact binary value half-to-even (.NET's "F2"
/// rounds half away from zero), and <c>repr(float)</c> is the shortest round-trip form with a trailing ".0".
/// </summary>
public static class PyFormat
{
    /// <summary><c>f"{value:{width}.{decimals}f}"</c>: right-aligned fixed point.</summary>
    public static string Fixed(double value, int decimals, int width = 0) => Fixed(value, decimals).PadLeft(width);

    /// <summary><c>f"{value:.{decimals}f}"</c>.</summary>
    public static string Fixed(double value, int decimals)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(decimals);
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        long bits = BitConverter.DoubleToInt64Bits(value);
        bool negative = bits < 0;
        int exponent = (int)((bits >> 52) & 0x7FF);
        long mantissa = bits & 0xFFFFFFFFFFFFFL;
        if (exponent == 0) exponent++; else mantissa |= 1L << 52;
        exponent -= 1075; // |value| = mantissa * 2^exponent exactly
        BigInteger scaled = new BigInteger(mantissa) * BigInteger.Pow(10, decimals);
        BigInteger q;
        if (exponent >= 0) q = scaled << exponent;
        else
        {
            BigInteger den = BigInteger.One << -exponent;
            q = BigInteger.DivRem(scaled, den, out var r);
            int c = (r * 2).CompareTo(den);
            if (c > 0 || (c == 0 && !q.IsEven)) q += 1;
        }
        string digits = q.ToString(CultureInfo.InvariantCulture).PadLeft(decimals + 1, '0');
        string s = decimals == 0 ? digits : digits[..^decimals] + "." + digits[^decimals..];
        return negative ? "-" + s : s;
    }

    /// <summary><c>f"{value:{width}}"</c> for an integer: right-aligned, never truncated.</summary>
    public static string Int(long value, int width) => value.ToString(CultureInfo.InvariantCulture).PadLeft(width);

    /// <summary>Python's <c>repr(float)</c> for the usual range: "0.3", "1.0", "20.0", "-0.1", "1e-05", "inf".</summary>
    public static string Repr(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsInfinity(value)) return value > 0 ? "inf" : "-inf";
        string s = value.ToString("R", CultureInfo.InvariantCulture);
        int e = s.IndexOf('E');
        if (e >= 0)
        {
            string mant = s[..e], exp = s[(e + 1)..];
            char sign = exp[0] == '-' ? '-' : '+';
            string digits = exp.TrimStart('+', '-').PadLeft(2, '0');
            return mant + "e" + sign + digits;
        }
        return s.Contains('.') ? s : s + ".0";
    }
}
