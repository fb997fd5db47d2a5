namespace SharpPrune;

/// <summary>Shape arithmetic shared by ops and kernels.</summary>
public static class Shapes
{
    public static long Numel(IReadOnlyList<int> shape)
    {
        long n = 1;
        for (int i = 0; i < shape.Count; i++) n *= shape[i]; // indexer, not foreach: no enumerator allocation
        return n;
    }

    /// <summary>Element count, refusing negative sizes and tensors over 2^31 elements.</summary>
    public static int NumelChecked(IReadOnlyList<int> shape)
    {
        long n = 1;
        foreach (var s in shape)
        {
            if (s < 0) throw new ArgumentException($"negative dimension {s} in shape {Format(shape)}");
            n *= s;
            if (n > Array.MaxLength) throw new ArgumentException($"shape {Format(shape)} has more than {Array.MaxLength} elements");
        }
        return (int)n;
    }

    public static int NormDim(int dim, int rank)
    {
        int r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
            throw new ArgumentOutOfRangeException(nameof(dim), $"dimension {dim} out of range (expected to be in range of [{-r}, {r - 1}])");
        return dim < 0 ? dim + r : dim;
    }

    public static bool Equal(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        if (a.Count != b.Count) return false;
        for (int i = 0; i < a.Count; i++) if (a[i] != b[i]) return false;
        return true;
    }

    public static string Format(IReadOnlyList<int> shape) =>
        shape.Count == 1 ? $"({shape[0]},)" : "(" + string.Join(", ", shape) + ")";

    public static int[] Strides(IReadOnlyList<int> shape)
    {
        var s = new int[shape.Count];
        int acc = 1;
        for (int i = shape.Count - 1; i >= 0; i--) { s[i] = acc; acc *= shape[i]; }
        return s;
    }

    /// <summary>NumPy broadcasting of two shapes.</summary>
    public static int[] Broadcast(IReadOnlyList<int> a, IReadOnlyList<int> b)
    {
        int r = Math.Max(a.Count, b.Count);
        var o = new int[r];
        for (int i = 0; i < r; i++)
        {
            int da = i - (r - a.Count) >= 0 ? a[i - (r - a.Count)] : 1;
            int db = i - (r - b.Count) >= 0 ? b[i - (r - b.Count)] : 1;
            if (da != db && da != 1 && db != 1)
                throw new ArgumentException($"shapes {Format(a)} and {Format(b)} cannot be broadcast together (dim {i}: {da} vs {db})");
            o[i] = da == 1 ? db : da;
        }
        return o;
    }

    /// <summary>Resolves one -1 entry of a requested shape against an element count.</summary>
    public static int[] Infer(IReadOnlyList<int> requested, long numel, IReadOnlyList<int> from)
    {
        var s = requested.ToArray();
        int infer = -1; long known = 1;
        for (int i = 0; i < s.Length; i++)
        {
            if (s[i] == -1) { if (infer >= 0) throw new ArgumentException("only one dimension can be inferred (-1)"); infer = i; }
            else if (s[i] < 0) throw new ArgumentException($"invalid shape dimension {s[i]}");
            else known *= s[i];
        }
        if (infer >= 0)
        {
            if (known == 0 || numel % known != 0)
                throw new ArgumentException($"shape {Format(requested)} is invalid for input of size {numel} (from {Format(from)})");
            s[infer] = (int)(numel / known);
        }
        else if (known != numel)
            throw new ArgumentException($"shape {Format(requested)} is invalid for input of size {numel} (from {Format(from)})");
        return s;
    }
}
