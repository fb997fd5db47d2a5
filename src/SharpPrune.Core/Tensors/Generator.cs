namespace SharpPrune;

/// <summary>
/// Seeded random generator (xoshiro256**): the same seed gives the same numbers on every machine and run,
/// so training and random pruning are reproducible. Its full state can be saved and restored (for --resume).
/// </summary>
public sealed class Generator
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spareNormal;

    public Generator(ulong seed = 0) => ManualSeed(seed);

    /// <summary>The generator used when none is passed (seed 0 until <see cref="ManualSeed"/> is called on it).</summary>
    public static Generator Default { get; } = new(0);

    public void ManualSeed(ulong seed)
    {
        // splitmix64 expands the seed so nearby seeds give unrelated streams.
        ulong x = seed;
        _s0 = SplitMix(ref x); _s1 = SplitMix(ref x); _s2 = SplitMix(ref x); _s3 = SplitMix(ref x);
        _spareNormal = null;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public ulong NextUInt64()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>Uniform in [0, 1) with 53 bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n), $"upper bound must be positive, got {n}");
        return (int)((NextUInt64() >> 33) * (ulong)n >> 31);
    }

    public double NextNormal()
    {
        if (_spareNormal is double s) { _spareNormal = null; return s; }
        double u1, u2;
        do u1 = NextDouble(); while (u1 <= double.Epsilon);
        u2 = NextDouble();
        double r = Math.Sqrt(-2.0 * Math.Log(u1));
        _spareNormal = r * Math.Sin(2 * Math.PI * u2);
        return r * Math.Cos(2 * Math.PI * u2);
    }

    public void FillUniform(Span<float> dst, float low, float high)
    {
        double w = high - low;
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)(low + w * NextDouble());
    }

    public void FillNormal(Span<float> dst, float mean, float std)
    {
        for (int i = 0; i < dst.Length; i++) dst[i] = (float)(mean + std * NextNormal());
    }

    public void FillBernoulli(Span<float> dst, double p)
    {
        if (p < 0 || p > 1) throw new ArgumentOutOfRangeException(nameof(p), $"bernoulli probability must be in [0, 1], got {p}");
        for (int i = 0; i < dst.Length; i++) dst[i] = NextDouble() < p ? 1f : 0f;
    }

    /// <summary>A uniformly random permutation of 0..n-1 (Fisher–Yates).</summary>
    public int[] Permutation(int n)
    {
        var p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        for (int i = n - 1; i > 0; i--) { int j = NextInt(i + 1); (p[i], p[j]) = (p[j], p[i]); }
        return p;
    }

    /// <summary>Serialisable state: four words plus the cached normal.</summary>
    public ulong[] GetState() => new[] { _s0, _s1, _s2, _s3, _spareNormal.HasValue ? 1UL : 0UL, BitConverter.DoubleToUInt64Bits(_spareNormal ?? 0) };

    public void SetState(ulong[] state)
    {
        if (state.Length != 6) throw new ArgumentException($"generator state must have 6 words, got {state.Length}");
        (_s0, _s1, _s2, _s3) = (state[0], state[1], state[2], state[3]);
        _spareNormal = state[4] != 0 ? BitConverter.UInt64BitsToDouble(state[5]) : null;
    }
}
