namespace SharpPrune.Vision.Training;

/// <summary>
/// Derives every random stream of a training run from (seed, epoch, stream). Re-seeding at the start of each
/// epoch makes the run's randomness independent of what happened before that epoch, which is what lets
/// <c>--resume</c> reproduce an uninterrupted run bit for bit.
/// </summary>
public static class EpochSeeds
{
    /// <summary>The stream of the <paramref name="index"/>-th Dropout module (in module order).</summary>
    public static ulong DropoutStream(int index) => 0x1000UL + (ulong)index;

    public static ulong For(ulong seed, int epoch, ulong stream)
    {
        // splitmix64-style finalisation of the packed triple: nearby inputs give unrelated seeds.
        ulong x = seed * 0x9E3779B97F4A7C15UL ^ ((ulong)(uint)epoch << 20) ^ (stream * 0xD1B54A32D192ED03UL);
        x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9UL;
        x = (x ^ (x >> 27)) * 0x94D049BB133111EBUL;
        return x ^ (x >> 31);
    }
}
