namespace SharpPrune.Pruning;

/// <summary>
/// The k smallest / largest entries of a vector, as positions in increasing order. Same choice as
/// <see cref="Tensor.TopKFlatIndices"/> — ties go to the lower index, −0 equals +0, NaN counts as the largest
/// value — without a comparison sort: global pruning ranks every weight of a network (15M for VGG-16), where the
/// sort took tens of seconds. Floats are mapped to order-preserving unsigned keys; the k-th key is found with two
/// 16-bit histogram passes (radix select), then one pass picks the positions.
/// </summary>
internal static class Selection
{
    public static int[] Smallest(ReadOnlySpan<float> values, int k) => Select(values, k, largest: false);

    public static int[] Largest(ReadOnlySpan<float> values, int k) => Select(values, k, largest: true);

    /// <summary>An unsigned key ordered as the floats are (reversed when <paramref name="largest"/>).</summary>
    private static uint Key(float v, bool largest)
    {
        if (v == 0f) v = 0f; // −0 ties with +0
        uint u = BitConverter.SingleToUInt32Bits(v);
        uint s = (u & 0x8000_0000u) != 0 ? ~u : u | 0x8000_0000u;
        return largest ? ~s : s;
    }

    private static int[] Select(ReadOnlySpan<float> values, int k, bool largest)
    {
        int n = values.Length;
        if (k < 0 || k > n) throw new ArgumentOutOfRangeException(nameof(k), $"k = {k} out of range for {n} entries");
        var result = new int[k];
        if (k == n) { for (int i = 0; i < n; i++) result[i] = i; return result; }
        if (k == 0) return result;

        // Pass 1: NaN count and a histogram of the keys' high 16 bits.
        var hist = new int[1 << 16];
        int nans = 0;
        foreach (var v in values)
            if (float.IsNaN(v)) nans++; else hist[Key(v, largest) >> 16]++;
        int finite = n - nans;
        // NaN is the largest value: taken first when selecting the largest, last when selecting the smallest.
        int nanWanted = largest ? Math.Min(k, nans) : Math.Max(0, k - finite);
        int fromValues = k - nanWanted;
        uint threshold = 0;
        int equalWanted = 0;
        if (fromValues > 0)
        {
            // Pass 2: within the high bucket holding rank fromValues - 1, a histogram of the low 16 bits.
            int rank = fromValues - 1, high = 0, below = 0;
            while (below + hist[high] <= rank) below += hist[high++];
            Array.Clear(hist);
            foreach (var v in values)
                if (!float.IsNaN(v) && Key(v, largest) is var key && key >> 16 == high) hist[key & 0xFFFF]++;
            int low = 0;
            while (below + hist[low] <= rank) below += hist[low++];
            threshold = ((uint)high << 16) | (uint)low;
            equalWanted = fromValues - below;
        }

        // Pass 3: everything below the threshold key, and the first equalWanted positions equal to it.
        int r = 0;
        for (int i = 0; i < n && r < k; i++)
        {
            float v = values[i];
            if (float.IsNaN(v)) { if (nanWanted > 0) { result[r++] = i; nanWanted--; } continue; }
            if (fromValues == 0) continue;
            uint key = Key(v, largest);
            if (key < threshold) result[r++] = i;
            else if (key == threshold && equalWanted > 0) { result[r++] = i; equalWanted--; }
        }
        return result;
    }
}
