namespace SharpPrune.Pruning.Compression;

/// <summary>Writes codes most significant bit first into bytes (the first bit lands in bit 7 of byte 0).</summary>
internal sealed class BitWriter
{
    private readonly List<byte> _bytes = new();
    private int _acc, _count;

    public long BitCount { get; private set; }

    public void Write(uint code, int length)
    {
        for (int i = length - 1; i >= 0; i--)
        {
            _acc = (_acc << 1) | (int)((code >> i) & 1);
            if (++_count == 8) { _bytes.Add((byte)_acc); _acc = 0; _count = 0; }
        }
        BitCount += length;
    }

    /// <summary>The bytes, the last one padded with zero bits.</summary>
    public byte[] ToArray()
    {
        var r = new List<byte>(_bytes);
        if (_count > 0) r.Add((byte)(_acc << (8 - _count)));
        return r.ToArray();
    }
}

/// <summary>Reads bits most significant first; reading past the end throws <see cref="InvalidDataException"/>.</summary>
internal ref struct BitReader
{
    private readonly ReadOnlySpan<byte> _data;
    private long _pos;

    public BitReader(ReadOnlySpan<byte> data) { _data = data; _pos = 0; }

    public long BitsLeft => (long)_data.Length * 8 - _pos;

    public int ReadBit()
    {
        if (_pos >= (long)_data.Length * 8) throw new InvalidDataException("bit stream ends in the middle of a code");
        int bit = (_data[(int)(_pos >> 3)] >> (7 - (int)(_pos & 7))) & 1;
        _pos++;
        return bit;
    }
}
