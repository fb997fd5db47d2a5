namespace SharpPrune.Vision.Data;

/// <summary>Mirrors the image left-right with probability <see cref="P"/> (one uniform draw per image).</summary>
public sealed class RandomHorizontalFlip : ITransform
{
    public RandomHorizontalFlip(double p = 0.5)
    {
        if (!(p >= 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), $"RandomHorizontalFlip: p must be in [0, 1], got {p}");
        P = p;
    }

    public double P { get; }

    public void Apply(Span<float> chw, int c, int h, int w, Generator rng)
    {
        TransformChecks.Shape(chw, c, h, w, nameof(RandomHorizontalFlip));
        if (rng.NextDouble() >= P) return;
        for (int row = 0; row < c * h; row++) chw.Slice(row * w, w).Reverse();
    }

    public override string ToString() => $"RandomHorizontalFlip(p={P})";
}
