using System.Numerics;
using System.Runtime.InteropServices;

namespace SharpPrune.Vision.Data;

/// <summary>Per-channel (x - mean[c]) / std[c], computed as torchvision's Normalize (subtract, then divide).</summary>
public sealed class Normalize : ITransform
{
    private readonly float[] _mean, _std;

    public Normalize(float[] mean, float[] std)
    {
        ArgumentNullException.ThrowIfNull(mean);
        ArgumentNullException.ThrowIfNull(std);
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"Normalize: mean has {mean.Length} values and std has {std.Length}; need the same non-zero count");
        for (int i = 0; i < std.Length; i++)
            if (!(std[i] > 0) || !float.IsFinite(std[i]) || !float.IsFinite(mean[i]))
                throw new ArgumentException($"Normalize: channel {i} has mean {mean[i]}, std {std[i]}; std must be positive and both finite");
        _mean = (float[])mean.Clone();
        _std = (float[])std.Clone();
    }

    public IReadOnlyList<float> Mean => _mean;
    public IReadOnlyList<float> Std => _std;

    public void Apply(Span<float> chw, int c, int h, int w, Generator rng)
    {
        TransformChecks.Shape(chw, c, h, w, nameof(Normalize));
        // One value broadcasts over all channels, like torchvision.
        if (_mean.Length != 1 && _mean.Length != c)
            throw new ArgumentException($"Normalize: has {_mean.Length} channel statistics but the image has {c} channels");
        int plane = h * w;
        for (int ch = 0; ch < c; ch++)
        {
            float m = _mean[_mean.Length == 1 ? 0 : ch], s = _std[_std.Length == 1 ? 0 : ch];
            Plane(chw.Slice(ch * plane, plane), m, s);
        }
    }

    // Vector subtract and divide round exactly like the scalar ops, so the result does not depend on the SIMD width.
    private static void Plane(Span<float> p, float m, float s)
    {
        int i = 0;
        if (Vector.IsHardwareAccelerated)
        {
            var vm = new Vector<float>(m);
            var vs = new Vector<float>(s);
            var v = MemoryMarshal.Cast<float, Vector<float>>(p);
            for (int k = 0; k < v.Length; k++) v[k] = (v[k] - vm) / vs;
            i = v.Length * Vector<float>.Count;
        }
        for (; i < p.Length; i++) p[i] = (p[i] - m) / s;
    }

    public override string ToString() => $"Normalize(mean=[{string.Join(", ", _mean)}], std=[{string.Join(", ", _std)}])";
}
