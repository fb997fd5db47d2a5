namespace SharpPrune.Pruning;

/// <summary>How the k-means centroids start (Han, Mao, Dally 2016, section 3.2).</summary>
public enum CentroidInit
{
    /// <summary>Evenly spaced over [min, max] of the weights: the paper's choice (keeps the few large weights).</summary>
    Linear,
    /// <summary>Evenly spaced on the y-axis of the weights' CDF (quantiles): dense where the weights are.</summary>
    Density,
    /// <summary>Forgy: k weights drawn at random.</summary>
    Random,
}

/// <summary>
/// One-dimensional k-means (Lloyd's algorithm) over the surviving weights of one layer. Centroids are kept sorted,
/// so a value belongs to the centroid whose interval between neighbouring midpoints holds it (a tie goes to the lower
/// centroid). Means are summed in double. Centroids that end with no weight are dropped, so the codebook holds only
/// used values (fewer than 2^bits when a layer has few weights or they collapse).
/// </summary>
public static class KMeans1d
{
    /// <summary>The result: sorted <see cref="Centroids"/> and, per input value, the index of its centroid.</summary>
    public sealed record Result(float[] Centroids, int[] Assignments, int Iterations);

    public static Result Fit(ReadOnlySpan<float> values, int k, CentroidInit init, Generator? generator = null, int maxIterations = 300)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int n = values.Length;
        if (n == 0) return new Result([0f], [], 0);
        foreach (var v in values)
            if (!float.IsFinite(v)) throw new ArgumentException($"k-means: the weights contain {v}; only finite weights can be shared");
        k = Math.Min(k, n);

        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var sorted = values.ToArray();
        Array.Sort(sorted, order);

        var c = Initial(sorted, k, init, generator ?? Generator.Default);
        Array.Sort(c);
        var assign = new int[n]; // per sorted position
        Assign(sorted, c, assign);
        int it = 0;
        var sum = new double[k]; var count = new int[k];
        while (it < maxIterations)
        {
            it++;
            Array.Clear(sum); Array.Clear(count);
            for (int i = 0; i < n; i++) { sum[assign[i]] += sorted[i]; count[assign[i]]++; }
            for (int j = 0; j < k; j++) if (count[j] > 0) c[j] = (float)(sum[j] / count[j]);
            Array.Sort(c); // means of sorted, contiguous groups stay sorted; this only guards rounding
            if (!Assign(sorted, c, assign)) break;
        }

        // Drop empty centroids, renumber.
        Array.Clear(count);
        for (int i = 0; i < n; i++) count[assign[i]]++;
        var remap = new int[k]; var used = new List<float>();
        for (int j = 0; j < k; j++) { remap[j] = used.Count; if (count[j] > 0) used.Add(c[j]); }
        var result = new int[n];
        for (int i = 0; i < n; i++) result[order[i]] = remap[assign[i]];
        return new Result(used.ToArray(), result, it);
    }

    /// <summary>The nearest of the sorted <paramref name="centroids"/> for one value (a tie goes to the lower one).</summary>
    public static int Nearest(float v, ReadOnlySpan<float> centroids)
    {
        int lo = 0, hi = centroids.Length - 1;
        while (lo < hi)
        {
            int mid = (lo + hi) >> 1;
            if (v - centroids[mid] <= centroids[mid + 1] - v) hi = mid; else lo = mid + 1;
        }
        return lo;
    }

    private static float[] Initial(float[] sorted, int k, CentroidInit init, Generator g)
    {
        int n = sorted.Length;
        var c = new float[k];
        switch (init)
        {
            case CentroidInit.Linear:
                float min = sorted[0], max = sorted[^1];
                for (int j = 0; j < k; j++) c[j] = k == 1 ? (min + max) / 2 : (float)(min + (double)(max - min) * j / (k - 1));
                break;
            case CentroidInit.Density:
                for (int j = 0; j < k; j++) c[j] = sorted[Math.Min(n - 1, (int)((j + 0.5) * n / k))];
                break;
            case CentroidInit.Random:
                // k distinct positions (partial Fisher-Yates).
                var pos = new int[n];
                for (int i = 0; i < n; i++) pos[i] = i;
                for (int j = 0; j < k; j++)
                {
                    int r = j + g.NextInt(n - j);
                    (pos[j], pos[r]) = (pos[r], pos[j]);
                    c[j] = sorted[pos[j]];
                }
                break;
            default: throw new ArgumentOutOfRangeException(nameof(init), init, "unknown centroid initialisation");
        }
        return c;
    }

    /// <summary>Assigns each sorted value to its nearest centroid; returns whether any assignment changed.</summary>
    private static bool Assign(float[] sorted, float[] c, int[] assign)
    {
        bool changed = false;
        int j = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            float v = sorted[i];
            while (j + 1 < c.Length && c[j + 1] - v < v - c[j]) j++;
            if (assign[i] != j) { assign[i] = j; changed = true; }
        }
        return changed;
    }
}
