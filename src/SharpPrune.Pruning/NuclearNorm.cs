namespace SharpPrune.Pruning;

/// <summary>
/// The nuclear norm (sum of singular values) of the channels of a 3-D tensor, as
/// <c>torch.norm(t, p='nuc', dim=[the two dims other than dim])</c>. Singular values come from a one-sided Jacobi
/// SVD in double precision: columns are rotated pairwise until orthogonal, then their lengths are the singular values.
/// </summary>
internal static class NuclearNorm
{
    /// <summary>One norm per index of <paramref name="dim"/>; <paramref name="t"/> must be 3-D.</summary>
    public static float[] OfChannels(Tensor t, int dim)
    {
        var shape = t.Shape;
        var other = Enumerable.Range(0, 3).Where(d => d != dim).ToArray();
        int channels = shape[dim], rows = shape[other[0]], cols = shape[other[1]];
        var strides = new int[3];
        strides[2] = 1; strides[1] = shape[2]; strides[0] = shape[1] * shape[2];
        var data = t.Data;
        var norms = new float[channels];
        var m = new double[rows * cols];
        for (int c = 0; c < channels; c++)
        {
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++)
                    m[i * cols + j] = data[c * strides[dim] + i * strides[other[0]] + j * strides[other[1]]];
            norms[c] = (float)SumOfSingularValues(m, rows, cols);
        }
        return norms;
    }

    /// <summary>Σ singular values of the row-major <paramref name="rows"/>×<paramref name="cols"/> matrix (overwritten).</summary>
    public static double SumOfSingularValues(double[] a, int rows, int cols)
    {
        // Work on the wider side's columns: rotate the columns of A (or of Aᵀ) so there are at most min(m, n) of them.
        if (cols > rows)
        {
            var tr = new double[a.Length];
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) tr[j * rows + i] = a[i * cols + j];
            return SumOfSingularValues(tr, cols, rows);
        }
        for (int sweep = 0; sweep < 60; sweep++)
        {
            bool rotated = false;
            for (int p = 0; p < cols - 1; p++)
                for (int q = p + 1; q < cols; q++)
                {
                    double alpha = 0, beta = 0, gamma = 0;
                    for (int i = 0; i < rows; i++)
                    {
                        double x = a[i * cols + p], y = a[i * cols + q];
                        alpha += x * x; beta += y * y; gamma += x * y;
                    }
                    if (Math.Abs(gamma) <= 1e-15 * Math.Sqrt(alpha * beta) || gamma == 0) continue;
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double tan = Math.Sign(zeta == 0 ? 1 : zeta) / (Math.Abs(zeta) + Math.Sqrt(1 + zeta * zeta));
                    double cos = 1 / Math.Sqrt(1 + tan * tan), sin = cos * tan;
                    for (int i = 0; i < rows; i++)
                    {
                        double x = a[i * cols + p], y = a[i * cols + q];
                        a[i * cols + p] = cos * x - sin * y;
                        a[i * cols + q] = sin * x + cos * y;
                    }
                }
            if (!rotated) break;
        }
        double sum = 0;
        for (int j = 0; j < cols; j++)
        {
            double len = 0;
            for (int i = 0; i < rows; i++) len += a[i * cols + j] * a[i * cols + j];
            sum += Math.Sqrt(len);
        }
        return sum;
    }
}
