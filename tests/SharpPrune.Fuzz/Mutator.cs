using System.Buffers.Binary;
using System.Text;

namespace SharpPrune.Fuzz;

/// <summary>
/// Byte-level mutations aimed at binary headers: bit flips, interesting bytes and integers (both endiannesses),
/// inserted, deleted and duplicated ranges, truncation, and decimal numbers in text (JSON headers) replaced by
/// boundary values. Half of the edits land in the first kilobyte, where the headers are.
/// </summary>
public sealed class Mutator(int seed)
{
    private readonly Random _rng = new(seed);

    private static readonly long[] Interesting =
        [0, 1, -1, 2, 7, 8, 16, 255, 256, 65535, 65536, int.MaxValue, int.MinValue, (long)int.MaxValue + 1, 1L << 30,
         1L << 32, (1L << 32) - 1, long.MaxValue, long.MinValue, 100_000_000, 25_000_000, 0x803, 0x801];

    private static readonly string[] InterestingText =
        ["0", "-1", "1", "18446744073709551615", "9223372036854775807", "9223372036854775808", "4294967296", "2147483647",
         "2147483648", "1e400", "-0", "1.5", "99999999999999999999999", "25000000", "NaN", "null", "\"x\"", "[]", "{}", "1073741824"];

    public Random Random => _rng;

    /// <summary>
    /// A safetensors-aware mutation: half the time the JSON header alone is mutated and the 8-byte length prefix
    /// rewritten to match, so the edit reaches the header validation instead of failing the length check.
    /// </summary>
    public byte[] MutateSafeTensors(byte[] input)
    {
        if (_rng.Next(2) == 0 || input.Length < 8) return Mutate(input);
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(input);
        if (n > (ulong)(input.Length - 8)) return Mutate(input);
        byte[] header = Mutate(input.AsSpan(8, (int)n).ToArray());
        var result = new byte[8 + header.Length + (input.Length - 8 - (int)n)];
        BinaryPrimitives.WriteUInt64LittleEndian(result, (ulong)header.Length);
        header.CopyTo(result, 8);
        input.AsSpan(8 + (int)n).CopyTo(result.AsSpan(8 + header.Length));
        return result;
    }

    public byte[] Mutate(byte[] input)
    {
        var data = new List<byte>(input);
        int edits = 1 + _rng.Next(4);
        for (int i = 0; i < edits; i++) Edit(data);
        return data.ToArray();
    }

    private int Offset(int length)
    {
        if (length == 0) return 0;
        return _rng.Next(2) == 0 ? _rng.Next(Math.Min(length, 1024)) : _rng.Next(length);
    }

    private void Edit(List<byte> d)
    {
        switch (_rng.Next(10))
        {
            case 0 when d.Count > 0:
                { int o = Offset(d.Count); d[o] ^= (byte)(1 << _rng.Next(8)); break; }
            case 1 when d.Count > 0:
                { int o = Offset(d.Count); d[o] = (byte)(new byte[] { 0, 0xFF, 0x7F, 0x80, 0x20, 0x22, 0x5C, 0x7B, 0x5B })[_rng.Next(9)]; break; }
            case 2 when d.Count >= 8:
                {
                    int size = _rng.Next(2) == 0 ? 4 : 8;
                    int o = Math.Min(Offset(d.Count), d.Count - size);
                    long v = Interesting[_rng.Next(Interesting.Length)];
                    Span<byte> b = stackalloc byte[8];
                    bool big = _rng.Next(2) == 0;
                    if (size == 4) { if (big) BinaryPrimitives.WriteInt32BigEndian(b, (int)v); else BinaryPrimitives.WriteInt32LittleEndian(b, (int)v); }
                    else { if (big) BinaryPrimitives.WriteInt64BigEndian(b, v); else BinaryPrimitives.WriteInt64LittleEndian(b, v); }
                    for (int k = 0; k < size; k++) d[o + k] = b[k];
                    break;
                }
            case 3:
                {
                    int o = Offset(d.Count + 1);
                    int n = 1 + _rng.Next(16);
                    var bytes = new byte[n];
                    _rng.NextBytes(bytes);
                    d.InsertRange(Math.Min(o, d.Count), bytes);
                    break;
                }
            case 4 when d.Count > 1:
                { int o = Offset(d.Count); int n = Math.Min(1 + _rng.Next(64), d.Count - o); d.RemoveRange(o, n); break; }
            case 5 when d.Count > 1:
                { int keep = _rng.Next(d.Count); d.RemoveRange(keep, d.Count - keep); break; }
            case 6 when d.Count > 1:
                {
                    int o = Offset(d.Count); int n = Math.Min(1 + _rng.Next(256), d.Count - o);
                    d.InsertRange(Math.Min(Offset(d.Count), d.Count), d.GetRange(o, n));
                    break;
                }
            case 7:
            case 8:
                ReplaceNumber(d);
                break;
            default:
                if (d.Count > 0) { int o = Offset(d.Count); d[o] = (byte)_rng.Next(256); }
                break;
        }
    }

    /// <summary>Replaces a run of ASCII digits (a JSON number, say) with a boundary value.</summary>
    private void ReplaceNumber(List<byte> d)
    {
        if (d.Count == 0) return;
        int limit = Math.Min(d.Count, 1 << 16);
        for (int tries = 0; tries < 8; tries++)
        {
            int o = _rng.Next(limit);
            if (d[o] < '0' || d[o] > '9') continue;
            int start = o, end = o;
            while (start > 0 && d[start - 1] >= '0' && d[start - 1] <= '9') start--;
            while (end < d.Count && d[end] >= '0' && d[end] <= '9') end++;
            d.RemoveRange(start, end - start);
            d.InsertRange(start, Encoding.ASCII.GetBytes(InterestingText[_rng.Next(InterestingText.Length)]));
            return;
        }
    }
}
