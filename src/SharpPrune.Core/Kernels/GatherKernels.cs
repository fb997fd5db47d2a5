namespace SharpPrune.Kernels;

/// <summary>Gather by flat index and its adjoint, scatter-add (the kernels of <c>Tensor.Take</c>).</summary>
public static class GatherKernels
{
    /// <summary>dst[i] = src[index[i]]; the caller has checked every index against src's length.</summary>
    public static void Gather(ReadOnlySpan<float> src, ReadOnlySpan<int> index, Span<float> dst)
    {
        for (int i = 0; i < index.Length; i++) dst[i] = src[index[i]];
    }

    /// <summary>dst[index[i]] += values[i], in order of i (the same sums, in the same order, on every run).</summary>
    public static void ScatterAdd(ReadOnlySpan<float> values, ReadOnlySpan<int> index, Span<float> dst)
    {
        for (int i = 0; i < index.Length; i++) dst[index[i]] += values[i];
    }
}
