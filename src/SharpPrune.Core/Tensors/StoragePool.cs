namespace SharpPrune;

/// <summary>
/// Recycles the float arrays of gradient temporaries that the autograd engine owns and has finished with.
/// Shapes repeat every training step, so exact-length buckets hit almost always; this keeps the backward pass
/// from feeding hundreds of megabytes of large-object-heap garbage to the GC each step.
/// Only the engine returns arrays, and only arrays allocated while its backward pass ran (see
/// <see cref="Track"/>): nothing a user or a forward closure can still reference is ever recycled.
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
