using SharpPrune.Autograd;
using Xunit.Sdk;

namespace SharpPrune.Tests.Core;

/// <summary>
/// Central-difference gradient check of the objective J = Σ f(inputs)·w, w fixed random weights.
///
/// Why the tolerance holds in float32: J is accumulated in double from the float outputs, and a nudge of one input
/// element changes only the outputs that depend on it — every other output is recomputed bit-identically and cancels
/// exactly in J(x+h) − J(x−h). What is left is (a) rounding of the few affected outputs, ≈ 1e-7·|y|·√m / (2h)
/// ≈ 1e-5·√m for h = 1e-2, and (b) the truncation error h²/6·|∂³J|, zero for ops linear in each single input
/// element (linear, conv, mul, shape ops, sums) and ≈ 1e-4 for the smooth ones used here (inputs kept O(1), away from
/// kinks and from zero in divisors). So |numeric − analytic| ≤ 2e-3 + 1e-2·|analytic| has a safety factor of
/// about ten, while a wrong gradient (wrong sign, missing term, wrong index) misses it by orders of magnitude.
/// </summary>
internal static class GradCheck
{
    public const double H = 1e-2, Atol = 2e-3, Rtol = 1e-2;

    public static void Check(string what, Func<Tensor[], Tensor> f, params Tensor[] inputs) => Check(what, f, inputs, inputs.Select(_ => true).ToArray());

    /// <param name="differentiable">which inputs to check (the others, e.g. masks, stay constant).</param>
    public static void Check(string what, Func<Tensor[], Tensor> f, Tensor[] inputs, bool[] differentiable)
    {
        var gen = new Generator(99);
        Tensor w;
        using (GradMode.NoGrad()) w = Tensor.Rand(gen, f(inputs).ShapeCopy()).MulScalar(2).AddScalar(-1);

        var leaves = inputs.Select((t, k) => differentiable[k] ? t.Clone().RequiresGrad_() : t.Clone()).ToArray();
        (f(leaves) * w).Sum().Backward();

        for (int k = 0; k < inputs.Length; k++)
        {
            if (!differentiable[k]) continue;
            var analytic = leaves[k].Grad ?? throw new XunitException($"{what}: input {k} got no gradient");
            var x = inputs.Select(t => t.Clone()).ToArray();
            var data = x[k].Data;
            for (int i = 0; i < data.Length; i++)
            {
                float orig = data[i];
                data[i] = orig + (float)H; double jp = Objective(f, x, w);
                data[i] = orig - (float)H; double jm = Objective(f, x, w);
                data[i] = orig;
                // The step actually taken in float, not the nominal 2h.
                double step = (double)(orig + (float)H) - (orig - (float)H);
                double numeric = (jp - jm) / step;
                double a = analytic.Data[i];
                if (Math.Abs(numeric - a) > Atol + Rtol * Math.Abs(a))
                    throw new XunitException($"{what}: d/d input {k} at {TensorAssert.Index(x[k].Shape, i)}: analytic {a:G6}, numeric {numeric:G6}");
            }
        }
    }

    private static double Objective(Func<Tensor[], Tensor> f, Tensor[] x, Tensor w)
    {
        using var _ = GradMode.NoGrad();
        var y = f(x).Data; var wd = w.Data;
        double s = 0;
        for (int i = 0; i < y.Length; i++) s += (double)y[i] * wd[i];
        return s;
    }

    /// <summary>Uniform values in [lo, hi) from a fixed seed.</summary>
    public static Tensor Rand(ulong seed, float lo, float hi, params int[] shape)
    {
        var t = Tensor.Empty(shape);
        new Generator(seed).FillUniform(t.Data, lo, hi);
        return t;
    }
}
