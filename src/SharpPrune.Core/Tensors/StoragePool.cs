namespace SharpPrune;

/// <summary>
/// Exact-length buckets of float arrays for reuse: shapes repeat every step, so a returned activation or gradient
/// buffer is nearly always rented again by the next allocation of the same size, which keeps training and
/// inference from feeding hundreds of megabytes of large-object-heap garbage to the GC.
/// Every array comes from <see cref="Rent"/> (through <see cref="Tensor.Empty"/>). Three places return arrays, each
/// only when nothing can still read them: the autograd engine, for gradient temporaries born during its backward
/// pass (<see cref="Track"/>); <see cref="Tensor.ReleaseStorage"/>, for the activations a scoped training forward
/// handed to its graph, once the backward through them ran; and <see cref="Tensor.Recycle"/>, for an intermediate
/// activation a container has finished with under no-grad. Tensors whose array went back lose it (later use throws).
/// </summary>
internal static class StoragePool
{
    private const int MinLength = 1 << 12;          // small arrays are cheap for the GC; not worth pooling
    private const long MaxPooledBytes = 1L << 30;   // an upper bound on idle memory kept for reuse
    private static readonly Dictionary<int, Stack<float[]>> Buckets = new();
    private static long _pooledBytes;

    [ThreadStatic] private static HashSet<float[]>? _born;

    public static float[] Rent(int length)
    {
        float[]? a = null;
        if (length >= MinLength)
            lock (Buckets)
                if (Buckets.TryGetValue(length, out var s) && s.Count > 0)
                {
                    a = s.Pop();
                    _pooledBytes -= 4L * length;
                }
        a ??= GC.AllocateUninitializedArray<float>(length);
        _born?.Add(a);
        return a;
    }

    public static void Return(float[] a)
    {
        if (a.Length < MinLength) return;
        lock (Buckets)
        {
            if (_pooledBytes + 4L * a.Length > MaxPooledBytes) return;
            if (!Buckets.TryGetValue(a.Length, out var s)) Buckets[a.Length] = s = new Stack<float[]>();
            s.Push(a);
            _pooledBytes += 4L * a.Length;
        }
    }

    /// <summary>Records every array rented on this thread until disposed; returns the set.</summary>
    public static TrackScope Track()
    {
        var previous = _born;
        _born = new HashSet<float[]>(ReferenceEqualityComparer.Instance);
        return new TrackScope(_born, previous);
    }

    public readonly struct TrackScope : IDisposable
    {
        private readonly HashSet<float[]>? _previous;
        public HashSet<float[]> Born { get; }
        internal TrackScope(HashSet<float[]> born, HashSet<float[]>? previous) { Born = born; _previous = previous; }
        public void Dispose() => _born = _previous;
    }
}
