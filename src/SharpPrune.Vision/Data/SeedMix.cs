namespace SharpPrune.Vision.Data;

/// <summary>
/// Derives independent generator seeds from (seed, epoch[, sample]) by hashing, so that shuffles and
/// augmentations are pure functions of those numbers rather than of a shared running generator.
/// </summary>
internal static class SeedMix
{
    private const ulong OrderStream = 0x6F726465725F5F31UL;   // distinct constants keep the two streams apart
    private const ulong SampleStream = 0x73616D706C655F32UL;

    public static ulong Order(ulong seed, int epoch) => Hash(Hash(seed ^ OrderStream, (ulong)epoch), 0);

    public static ulong Sample(ulong seed, int epoch, int index) => Hash(Hash(seed ^ SampleStream, (ulong)epoch), (ulong)index + 1);

    // splitmix64's finaliser applied to the running value combined with the next word.
    private static ulong Hash(ulong h, ulong v)
    {
        ulong z = h + 0x9E3779B97F4A7C15UL * (v + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
