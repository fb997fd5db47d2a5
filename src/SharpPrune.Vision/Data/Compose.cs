namespace SharpPrune.Vision.Data;

/// <summary>Applies transforms in order, all drawing from the same per-sample generator.</summary>
public sealed class Compose : ITransform
{
    private readonly ITransform[] _transforms;

    public Compose(params ITransform[] transforms)
    {
        ArgumentNullException.ThrowIfNull(transforms);
        for (int i = 0; i < transforms.Length; i++)
            if (transforms[i] is null) throw new ArgumentNullException(nameof(transforms), $"Compose: transform {i} is null");
        _transforms = (ITransform[])transforms.Clone();
    }

    public IReadOnlyList<ITransform> Transforms => _transforms;

    public void Apply(Span<float> chw, int c, int h, int w, Generator rng)
    {
        foreach (var t in _transforms) t.Apply(chw, c, h, w, rng);
    }

    public override string ToString() => $"Compose({string.Join(", ", _transforms.Select(t => t.ToString()))})";
}
