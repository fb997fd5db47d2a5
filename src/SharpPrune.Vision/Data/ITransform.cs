namespace SharpPrune.Vision.Data;

/// <summary>
/// An in-place transform of one C x H x W float image. All randomness must come from <paramref name="rng"/>
/// (the loader seeds it per sample), and implementations must be stateless so that one instance can serve
/// several threads at once.
/// </summary>
public interface ITransform
{
    void Apply(Span<float> chw, int c, int h, int w, Generator rng);
}

internal static class TransformChecks
{
    public static void Shape(Span<float> chw, int c, int h, int w, string transform)
    {
        if (c <= 0 || h <= 0 || w <= 0)
            throw new ArgumentException($"{transform}: image shape must be positive, got {c}x{h}x{w}");
        if (chw.Length != (long)c * h * w)
            throw new ArgumentException($"{transform}: buffer has {chw.Length} floats but shape {c}x{h}x{w} needs {(long)c * h * w}");
    }
}
