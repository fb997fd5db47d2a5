namespace SharpPrune.Pruning.Compression;

/// <summary>
/// Canonical Huffman codes limited to <see cref="MaxLength"/> bits (code lengths fit a nibble). Only the code
/// length of each symbol is stored; codes are assigned in order of (length, symbol), as in DEFLATE.
/// </summary>
public static class Huffman
{
    public const int MaxLength = 15;

    /// <summary>
    /// Code lengths for the symbol <paramref name="counts"/> (0 for an unused symbol). A lone used symbol gets
    /// length 1. When the optimal tree is deeper than <see cref="MaxLength"/>, the counts are halved (keeping used
    /// symbols at ≥ 1) and the tree rebuilt until it fits.
    /// </summary>
    public static byte[] CodeLengths(ReadOnlySpan<long> counts)
    {
        var c = counts.ToArray();
        var lengths = new byte[c.Length];
        int used = c.Count(x => x > 0);
        if (used == 0) return lengths;
        if (used == 1) { lengths[Array.FindIndex(c, x => x > 0)] = 1; return lengths; }
        if (used > 1 << MaxLength) throw new ArgumentException($"at most {1 << MaxLength} symbols can be coded in {MaxLength} bits");
        while (true)
        {
            Build(c, lengths);
            if (lengths.Max() <= MaxLength) return lengths;
            for (int i = 0; i < c.Length; i++) if (c[i] > 0) c[i] = Math.Max(1, c[i] >> 1);
        }
    }

    private static void Build(long[] counts, byte[] lengths)
    {
        // Nodes: leaves 0..n-1, internal nodes after; ties broken by node id, so the tree is deterministic.
        int n = counts.Length;
        var parent = new int[2 * n];
        var queue = new PriorityQueue<int, (long, int)>();
        int next = n;
        for (int i = 0; i < n; i++) if (counts[i] > 0) queue.Enqueue(i, (counts[i], i));
        var weight = new long[2 * n];
        Array.Copy(counts, weight, n);
        while (queue.Count > 1)
        {
            queue.TryDequeue(out int a, out var pa);
            queue.TryDequeue(out int b, out var pb);
            int node = next++;
            weight[node] = pa.Item1 + pb.Item1;
            parent[a] = node; parent[b] = node;
            queue.Enqueue(node, (weight[node], node));
        }
        int root = next - 1;
        var depth = new int[2 * n];
        for (int node = root - 1; node >= 0; node--)
            if (node >= n || counts[node] > 0) depth[node] = depth[parent[node]] + 1;
        for (int i = 0; i < n; i++) lengths[i] = counts[i] > 0 ? (byte)Math.Min(depth[i], 255) : (byte)0;
    }

    /// <summary>The canonical codes for the given lengths (MSB-first values).</summary>
    public static uint[] Codes(ReadOnlySpan<byte> lengths)
    {
        var countPerLength = new int[MaxLength + 2];
        foreach (var l in lengths) countPerLength[l]++;
        countPerLength[0] = 0;
        var nextCode = new uint[MaxLength + 2];
        uint code = 0;
        for (int len = 1; len <= MaxLength; len++) { code = (code + (uint)countPerLength[len - 1]) << 1; nextCode[len] = code; }
        var codes = new uint[lengths.Length];
        for (int s = 0; s < lengths.Length; s++) if (lengths[s] > 0) codes[s] = nextCode[lengths[s]]++;
        return codes;
    }

    /// <summary>Total bits of coding <paramref name="counts"/> with <paramref name="lengths"/>.</summary>
    public static long CostBits(ReadOnlySpan<long> counts, ReadOnlySpan<byte> lengths)
    {
        long bits = 0;
        for (int i = 0; i < counts.Length; i++) bits += counts[i] * lengths[i];
        return bits;
    }
}

/// <summary>Decodes canonical Huffman codes (zlib's "puff" method: walk lengths, comparing against each length's first code).</summary>
internal sealed class HuffmanDecoder
{
    private readonly int[] _count = new int[Huffman.MaxLength + 1];
    private readonly int[] _symbols;

    /// <summary>Validates the lengths: each ≤ <see cref="Huffman.MaxLength"/>, at least one code, not over-subscribed.</summary>
    public HuffmanDecoder(ReadOnlySpan<byte> lengths, string what)
    {
        foreach (var l in lengths)
        {
            if (l > Huffman.MaxLength) throw new InvalidDataException($"{what}: code length {l} exceeds {Huffman.MaxLength}");
            _count[l]++;
        }
        _count[0] = 0;
        if (_count.Sum() == 0) throw new InvalidDataException($"{what}: no symbol has a code");
        long left = 1;
        for (int len = 1; len <= Huffman.MaxLength; len++)
        {
            left = (left << 1) - _count[len];
            if (left < 0) throw new InvalidDataException($"{what}: the code lengths are over-subscribed (not a prefix code)");
        }
        var offs = new int[Huffman.MaxLength + 2];
        for (int len = 1; len <= Huffman.MaxLength; len++) offs[len + 1] = offs[len] + _count[len];
        _symbols = new int[offs[Huffman.MaxLength + 1]];
        for (int s = 0; s < lengths.Length; s++) if (lengths[s] != 0) _symbols[offs[lengths[s]]++] = s;
    }

    public int Decode(ref BitReader reader)
    {
        int code = 0, first = 0, index = 0;
        for (int len = 1; len <= Huffman.MaxLength; len++)
        {
            code |= reader.ReadBit();
            int count = _count[len];
            if (code - first < count) return _symbols[index + code - first];
            index += count; first += count;
            first <<= 1; code <<= 1;
        }
        throw new InvalidDataException("invalid Huffman code in the bit stream");
    }
}
