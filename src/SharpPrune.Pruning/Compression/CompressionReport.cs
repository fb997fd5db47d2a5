using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SharpPrune.Pruning.Compression;

/// <summary>One layer's row of Deep Compression's table (Han, Mao, Dally 2016, tables 2-5).</summary>
public sealed record CompressionRow(string Name, long Weights, double KeptPercent, int CodebookSize,
    double WeightBitsQ, double WeightBitsH, int IndexBitsQ, double IndexBitsH,
    double RatioPruned, double RatioQuantized, double RatioHuffman);

/// <summary>
/// Deep Compression's per-layer table for a .spz file: weights kept, bits per weight and per relative index
/// before (P+Q) and after Huffman coding (P+Q+H), and compression against dense float32 after each stage:
/// <list type="bullet">
/// <item>P (pruning): the kept entries (and filler zeros) as float32 values with the same relative indices;</item>
/// <item>P+Q (quantization): ceil(log2 k) bits per weight (k+1 with the filler symbol) plus the relative index bits, plus the float32 codebook;</item>
/// <item>P+Q+H (Huffman): the tensor's real bytes in the file.</item>
/// </list>
/// The total row counts every tensor of the model (biases and BatchNorm stored plainly at 32 bits in every
/// column) and its P+Q+H column is the file's size, header and metadata included.
/// </summary>
public sealed class CompressionReport
{
    public IReadOnlyList<CompressionRow> Rows { get; }
    public CompressionRow Total { get; }

    private CompressionReport(IReadOnlyList<CompressionRow> rows, CompressionRow total) { Rows = rows; Total = total; }

    public static CompressionReport FromFile(SpzContents contents)
    {
        var rows = new List<CompressionRow>();
        double denseAll = 0, pAll = 0, qAll = 0;
        long weightsAll = 0, keptAll = 0;
        foreach (var t in contents.Tensors)
        {
            double dense = t.Numel * 32.0;
            denseAll += dense;
            if (t.Kind == SpzKind.Dense) { pAll += t.RecordBytes * 8.0; qAll += t.RecordBytes * 8.0; continue; }
            int symbols = t.CodebookSize + (t.Kind == SpzKind.SharedSparse ? 1 : 0);
            int wq = Math.Max(1, (int)Math.Ceiling(Math.Log2(symbols)));
            double p = t.Entries * (32.0 + t.IndexBits);
            double q = t.Entries * (double)(wq + t.IndexBits) + 32.0 * t.CodebookSize;
            pAll += p; qAll += q;
            weightsAll += t.Numel; keptAll += t.Kept;
            rows.Add(new CompressionRow(t.Name, t.Numel, 100.0 * t.Kept / t.Numel, t.CodebookSize,
                wq, t.Entries == 0 ? 0 : (double)t.WeightStreamBits / t.Entries,
                t.IndexBits, t.Entries == 0 ? 0 : (double)t.IndexStreamBits / t.Entries,
                dense / p, dense / q, dense / (t.RecordBytes * 8.0)));
        }
        long fileBits = contents.FileBytes * 8;
        var total = new CompressionRow("Total", weightsAll, weightsAll == 0 ? 0 : 100.0 * keptAll / weightsAll, 0,
            double.NaN, double.NaN, 0, double.NaN, denseAll / pAll, denseAll / qAll, denseAll / fileBits);
        return new CompressionReport(rows, total);
    }

    /// <summary>Dense float32 bytes of the model (every tensor), and the file's real bytes.</summary>
    public static (long DenseBytes, long FileBytes) Sizes(SpzContents c) => (c.Tensors.Sum(t => t.Numel * 4), c.FileBytes);

    public string FormatTable()
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        string head = string.Format(inv, "{0,-16} {1,10} {2,9} {3,6} {4,8} {5,8} {6,8} {7,8} {8,9} {9,9} {10,9}",
            "Layer", "#Weights", "Kept(P)", "k", "Wbits Q", "Wbits H", "Ibits Q", "Ibits H", "Ratio P", "Ratio PQ", "Ratio PQH");
        sb.AppendLine(head);
        sb.AppendLine(new string('-', head.Length));
        foreach (var r in Rows.Append(Total))
        {
            bool total = ReferenceEquals(r, Total);
            if (total) sb.AppendLine(new string('-', head.Length));
            sb.AppendLine(string.Format(inv, "{0,-16} {1,10} {2,8:F2}% {3,6} {4,8} {5,8} {6,8} {7,8} {8,8:F2}x {9,8:F2}x {10,8:F2}x",
                r.Name, r.Weights, r.KeptPercent, total ? "" : r.CodebookSize.ToString(inv),
                total ? "" : r.WeightBitsQ.ToString("F0", inv), total ? "" : r.WeightBitsH.ToString("F2", inv),
                total ? "" : r.IndexBitsQ == 0 ? "-" : r.IndexBitsQ.ToString(inv), total ? "" : r.IndexBitsQ == 0 ? "-" : r.IndexBitsH.ToString("F2", inv),
                r.RatioPruned, r.RatioQuantized, r.RatioHuffman));
        }
        return sb.ToString();
    }

    public string ToJson()
    {
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("layers");
            foreach (var r in Rows) { w.WriteStartObject(); WriteRow(w, r); w.WriteEndObject(); }
            w.WriteEndArray();
            w.WriteStartObject("total");
            w.WriteNumber("weights", Total.Weights);
            w.WriteNumber("kept_percent", Total.KeptPercent);
            w.WriteNumber("ratio_pruned", Total.RatioPruned);
            w.WriteNumber("ratio_quantized", Total.RatioQuantized);
            w.WriteNumber("ratio_huffman", Total.RatioHuffman);
            w.WriteEndObject();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }

    private static void WriteRow(Utf8JsonWriter w, CompressionRow r)
    {
        w.WriteString("name", r.Name);
        w.WriteNumber("weights", r.Weights);
        w.WriteNumber("kept_percent", r.KeptPercent);
        w.WriteNumber("codebook", r.CodebookSize);
        w.WriteNumber("weight_bits_quantized", r.WeightBitsQ);
        w.WriteNumber("weight_bits_huffman", r.WeightBitsH);
        w.WriteNumber("index_bits_quantized", r.IndexBitsQ);
        w.WriteNumber("index_bits_huffman", r.IndexBitsH);
        w.WriteNumber("ratio_pruned", r.RatioPruned);
        w.WriteNumber("ratio_quantized", r.RatioQuantized);
        w.WriteNumber("ratio_huffman", r.RatioHuffman);
    }
}
