using System.Text;
using SharpPrune.Fuzz;
using SharpPrune.IO;
using SharpPrune.Vision.Data;

namespace SharpPrune.Tests.Fuzz;

/// <summary>
/// Properties of every reader over generated inputs (seeded System.Random, a bounded number of cases): what is
/// written reads back bit for bit, and every strict prefix of a valid file is refused with a clean error.
/// </summary>
public class ReaderPropertyTests
{
    private static string RandomName(Random r)
    {
        const string alphabet = "abcXYZ019._-\"\\/ é√🙂\t";
        var sb = new StringBuilder();
        int n = 1 + r.Next(12);
        var elements = System.Globalization.StringInfo.GetTextElementEnumerator(alphabet);
        var parts = new List<string>();
        while (elements.MoveNext()) parts.Add((string)elements.Current);
        for (int i = 0; i < n; i++) sb.Append(parts[r.Next(parts.Count)]);
        return sb.ToString();
    }

    [Fact]
    public void SafetensorsRoundTripsAnyNamesShapesBitsAndMetadata()
    {
        var r = new Random(42);
        for (int c = 0; c < 150; c++)
        {
            var tensors = new List<KeyValuePair<string, Tensor>>();
            var names = new HashSet<string>();
            int count = r.Next(6);
            while (tensors.Count < count)
            {
                string name = RandomName(r);
                if (name == "__metadata__" || !names.Add(name)) continue;
                var shape = Enumerable.Range(0, r.Next(5)).Select(_ => r.Next(4)).ToArray();
                var t = Tensor.Zeros(shape);
                var data = t.Data;
                for (int i = 0; i < data.Length; i++) data[i] = BitConverter.Int32BitsToSingle(r.Next(int.MinValue, int.MaxValue));
                tensors.Add(new(name, t));
            }
            var meta = Enumerable.Range(0, r.Next(3)).Select(_ => (RandomName(r), RandomName(r))).DistinctBy(kv => kv.Item1).ToDictionary(kv => kv.Item1, kv => kv.Item2);
            var file = SafeTensors.Deserialize(SafeTensors.Serialize(tensors, meta), "roundtrip");
            Assert.Equal(tensors.Select(kv => kv.Key), file.Tensors.Select(kv => kv.Key));
            for (int i = 0; i < tensors.Count; i++)
            {
                Assert.Equal(tensors[i].Value.ShapeCopy(), file.Tensors[i].Value.ShapeCopy());
                Assert.Equal(tensors[i].Value.ToArray().Select(BitConverter.SingleToInt32Bits), file.Tensors[i].Value.ToArray().Select(BitConverter.SingleToInt32Bits));
            }
            Assert.Equal(meta.OrderBy(kv => kv.Key, StringComparer.Ordinal), file.Metadata.OrderBy(kv => kv.Key, StringComparer.Ordinal));
        }
    }

    [Fact]
    public void EveryStrictPrefixOfAValidFileIsRefusedCleanly()
    {
        foreach (var target in FuzzTargets.All)
        {
            foreach (var seed in target.Seeds())
            {
                var r = new Random(seed.Length);
                var cuts = Enumerable.Range(0, 40).Select(_ => r.Next(seed.Length)).Concat([0, 1, 7, 8, 15, 16, seed.Length - 1]).Where(n => n >= 0 && n < seed.Length).Distinct();
                string dir = Path.Combine(Path.GetTempPath(), "sharpprune-prefix-" + Guid.NewGuid().ToString("N"));
                Directory.CreateDirectory(dir);
                try
                {
                    foreach (int n in cuts)
                    {
                        Outcome? outcome;
                        try { outcome = target.Read(seed[..n], dir); }
                        catch (Exception e) when (FuzzTarget.IsCleanType(e)) { outcome = Outcome.CleanError; }
                        Assert.True(outcome == Outcome.CleanError, $"{target.Name}: the first {n} of {seed.Length} bytes were {outcome?.ToString() ?? "accepted"}");
                    }
                }
                finally { Directory.Delete(dir, recursive: true); }
            }
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void IdxRoundTripsAnyImageSizeAndCount(bool gzip)
    {
        var r = new Random(gzip ? 2 : 1);
        for (int c = 0; c < 25; c++)
        {
            int count = r.Next(1, 12), rows = r.Next(1, 9), cols = r.Next(1, 9);
            var images = FuzzTargets.IdxImages(count, rows, cols);
            r.NextBytes(images.AsSpan(16));
            var labels = Enumerable.Range(0, count).Select(_ => r.Next(10)).ToArray();
            string dir = Path.Combine(Path.GetTempPath(), "sharpprune-idxprop-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(dir);
            try
            {
                File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte"), FuzzTargets.IdxImages(1, rows, cols));
                File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte"), FuzzTargets.IdxLabels([0]));
                File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte" + (gzip ? ".gz" : "")), gzip ? FuzzTargets.Gzip(images) : images);
                File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), FuzzTargets.IdxLabels(labels));
                var (_, test) = Datasets.Load("mnist", dir);
                Assert.Equal((count, rows, cols), (test.Count, test.Height, test.Width));
                var img = new float[rows * cols];
                for (int i = 0; i < count; i++)
                {
                    Assert.Equal(labels[i], test.Label(i));
                    test.GetImage(i, img);
                    for (int p = 0; p < img.Length; p++) Assert.Equal(images[16 + i * rows * cols + p] / 255f, img[p]);
                }
            }
            finally { Directory.Delete(dir, recursive: true); }
        }
    }
}
