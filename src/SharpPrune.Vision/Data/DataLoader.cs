using System.Threading.Channels;
using SharpPrune.Kernels;

namespace SharpPrune.Vision.Data;

/// <summary>
/// Batches a dataset epoch by epoch. The order of epoch e is a pure function of (seed, e) and each sample's
/// augmentation a pure function of (seed, e, dataset index), so a resumed run sees exactly the batches an
/// uninterrupted one would, regardless of thread scheduling. With <c>prefetch &gt; 0</c> a background task
/// prepares up to that many batches ahead while the consumer trains.
/// </summary>
public sealed class DataLoader
{
    // Below this many floats per batch, splitting the work across threads costs more than it saves.
    private const int ParallelThreshold = 1 << 15;

    private readonly ITransform? _transform;
    private readonly int _imageSize;

    public DataLoader(IImageDataset ds, int batchSize, bool shuffle, ITransform? transform, ulong seed, bool dropLast = false, int prefetch = 2)
    {
        ArgumentNullException.ThrowIfNull(ds);
        if (batchSize <= 0) throw new ArgumentOutOfRangeException(nameof(batchSize), $"DataLoader: batch size must be positive, got {batchSize}");
        if (prefetch < 0) throw new ArgumentOutOfRangeException(nameof(prefetch), $"DataLoader: prefetch must be >= 0 (0 = no background thread), got {prefetch}");
        Dataset = ds;
        BatchSize = batchSize;
        Shuffle = shuffle;
        _transform = transform;
        Seed = seed;
        DropLast = dropLast;
        Prefetch = prefetch;
        _imageSize = checked(ds.Channels * ds.Height * ds.Width);
    }

    public IImageDataset Dataset { get; }
    public int BatchSize { get; }
    public bool Shuffle { get; }
    public ulong Seed { get; }
    public bool DropLast { get; }
    public int Prefetch { get; }

    public int BatchesPerEpoch => DropLast ? Dataset.Count / BatchSize : (Dataset.Count + BatchSize - 1) / BatchSize;

    /// <summary>The dataset indices of epoch <paramref name="epoch"/> in visiting order.</summary>
    public int[] EpochOrder(int epoch)
    {
        CheckEpoch(epoch);
        if (Shuffle) return new Generator(SeedMix.Order(Seed, epoch)).Permutation(Dataset.Count);
        var order = new int[Dataset.Count];
        for (int i = 0; i < order.Length; i++) order[i] = i;
        return order;
    }

    /// <summary>The batches of epoch <paramref name="epoch"/>. Leaving a foreach early stops the producer.</summary>
    public IEnumerable<Batch> Epoch(int epoch) => Epoch(epoch, 0);

    /// <summary>The batches of epoch <paramref name="epoch"/> from batch <paramref name="startBatch"/> on, identical to
    /// those of a full enumeration (to resume mid-epoch without preparing the skipped batches).</summary>
    public IEnumerable<Batch> Epoch(int epoch, int startBatch)
    {
        CheckEpoch(epoch);
        if (startBatch < 0 || startBatch > BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(startBatch), $"DataLoader: start batch {startBatch} is outside 0..{BatchesPerEpoch}");
        return Prefetch == 0 ? Inline(epoch, startBatch) : Background(epoch, startBatch);
    }

    /// <summary>Batch <paramref name="batchIndex"/> of epoch <paramref name="epoch"/>, prepared on the calling thread.</summary>
    public Batch GetBatch(int epoch, int batchIndex)
    {
        if ((uint)batchIndex >= (uint)BatchesPerEpoch)
            throw new ArgumentOutOfRangeException(nameof(batchIndex), $"DataLoader: batch {batchIndex} is outside 0..{BatchesPerEpoch - 1}");
        return Prepare(epoch, EpochOrder(epoch), batchIndex);
    }

    private IEnumerable<Batch> Inline(int epoch, int startBatch)
    {
        int[] order = EpochOrder(epoch);
        for (int b = startBatch; b < BatchesPerEpoch; b++) yield return Prepare(epoch, order, b);
    }

    private IEnumerable<Batch> Background(int epoch, int startBatch)
    {
        int[] order = EpochOrder(epoch);
        var channel = Channel.CreateBounded<Batch>(new BoundedChannelOptions(Prefetch)
        {
            SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.Wait,
        });
        using var cts = new CancellationTokenSource();
        // The producer awaits (holds no thread) while the channel is full.
        var producer = Task.Run(() => Produce(channel.Writer, epoch, order, startBatch, cts.Token));
        try
        {
            var reader = channel.Reader;
            while (WaitToRead(reader))
                while (reader.TryRead(out var batch)) yield return batch;
            producer.GetAwaiter().GetResult(); // rethrows a producer failure with its original type and stack
        }
        finally
        {
            // Runs on normal completion, on exceptions and when a foreach is left early (Dispose).
            cts.Cancel();
            try { producer.Wait(); }
            catch (AggregateException) { /* cancelled, or a failure already rethrown above */ }
        }
    }

    private async Task Produce(ChannelWriter<Batch> writer, int epoch, int[] order, int startBatch, CancellationToken ct)
    {
        try
        {
            for (int b = startBatch; b < BatchesPerEpoch; b++)
            {
                ct.ThrowIfCancellationRequested();
                await writer.WriteAsync(Prepare(epoch, order, b), ct).ConfigureAwait(false);
            }
        }
        finally { writer.TryComplete(); }
    }

    private static bool WaitToRead(ChannelReader<Batch> reader)
    {
        var pending = reader.WaitToReadAsync();
        return pending.IsCompletedSuccessfully ? pending.Result : pending.AsTask().GetAwaiter().GetResult();
    }

    private Batch Prepare(int epoch, int[] order, int batchIndex)
    {
        int start = batchIndex * BatchSize, n = Math.Min(BatchSize, order.Length - start);
        int[] indices = order.AsSpan(start, n).ToArray();
        var labels = new int[n];
        var data = GC.AllocateUninitializedArray<float>(checked(n * _imageSize));
        int parts = (long)n * _imageSize >= ParallelThreshold ? Math.Min(Parallelism.MaxThreads, n) : 1;
        Parallelism.ForRanges(n, parts, (_, from, to) =>
        {
            var rng = _transform is null ? null : new Generator(); // one per worker range, reseeded per sample
            for (int i = from; i < to; i++) PrepareSample(epoch, indices[i], data.AsSpan(i * _imageSize, _imageSize), out labels[i], rng);
        });
        return new Batch(new Tensor(data, n, Dataset.Channels, Dataset.Height, Dataset.Width), labels, indices);
    }

    private void PrepareSample(int epoch, int index, Span<float> chw, out int label, Generator? rng)
    {
        Dataset.GetImage(index, chw);
        label = Dataset.Label(index);
        if (_transform is null) return;
        rng!.ManualSeed(SeedMix.Sample(Seed, epoch, index));
        _transform.Apply(chw, Dataset.Channels, Dataset.Height, Dataset.Width, rng);
    }

    private static void CheckEpoch(int epoch)
    {
        if (epoch < 0) throw new ArgumentOutOfRangeException(nameof(epoch), $"DataLoader: epoch must be >= 0, got {epoch}");
    }
}
