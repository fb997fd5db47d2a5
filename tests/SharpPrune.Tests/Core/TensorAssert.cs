using System.Globalization;
using Xunit.Sdk;

namespace SharpPrune.Tests.Core;

/// <summary>Element-wise comparison of tensors with a combined absolute + relative bound and a readable failure.</summary>
internal static class TensorAssert
{
    /// <summary>
    /// Passes when every |actual − expected| ≤ atol + rtol·|expected|. atol defaults to rtol: fixture values are of
    /// order one, so an element that cancels to nearly zero is held to the same absolute error as its neighbours
    /// instead of to a relative bound it cannot meet.
    /// </summary>
    public static void Close(Tensor expected, Tensor actual, double rtol, string what, double? atol = null)
    {
        if (!Shapes.Equal(expected.Shape, actual.Shape))
            throw new XunitException($"{what}: shape {Shapes.Format(actual.Shape)}, expected {Shapes.Format(expected.Shape)}");
        double a0 = atol ?? rtol;
        var e = expected.Data; var a = actual.Data;
        int bad = 0, worst = -1; double worstExcess = 0, maxErr = 0;
        for (int i = 0; i < e.Length; i++)
        {
            double err = Math.Abs((double)a[i] - e[i]);
            bool ok = err <= a0 + rtol * Math.Abs(e[i]) || a[i] == e[i]; // a[i] == e[i] covers matching infinities
            if (double.IsNaN(a[i]) != double.IsNaN(e[i])) ok = false;
            maxErr = Math.Max(maxErr, double.IsNaN(err) ? 0 : err);
            if (!ok)
            {
                bad++;
                double excess = double.IsNaN(err) ? double.PositiveInfinity : err / (a0 + rtol * Math.Abs(e[i]));
                if (worst < 0 || excess > worstExcess) { worst = i; worstExcess = excess; }
            }
        }
        if (bad > 0)
            throw new XunitException(
                $"{what}: {bad} of {e.Length} elements differ beyond atol {a0:G3} + rtol {rtol:G3}; worst at index " +
                $"{Index(expected.Shape, worst)}: expected {F(e[worst])}, actual {F(a[worst])} " +
                $"(|diff| {Math.Abs((double)a[worst] - e[worst]):G4}); max |diff| {maxErr:G4}");
    }

    /// <summary>Exact equality (indices, masks, counts).</summary>
    public static void Equal(Tensor expected, Tensor actual, string what) => Close(expected, actual, 0, what, 0);

    public static string Index(IReadOnlyList<int> shape, int flat)
    {
        var idx = new int[shape.Count];
        for (int d = shape.Count - 1; d >= 0; d--) { idx[d] = shape[d] == 0 ? 0 : flat % shape[d]; flat /= Math.Max(shape[d], 1); }
        return "[" + string.Join(", ", idx) + "]";
    }

    private static string F(float v) => v.ToString("G9", CultureInfo.InvariantCulture);
}
