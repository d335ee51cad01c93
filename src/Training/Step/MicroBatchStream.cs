namespace HpcAdam.Training;

/// <summary>
/// The global micro-batch stream (docs/ALGORITHMS.md, "The step"): micro-batch i holds the training-set
/// indices at positions [j·M, (j+1)·M) of epoch e's permutation, with e = i / (N/M) and
/// j = i mod (N/M). The permutation is a pure function of (seed, epoch), computed here in C#
/// rather than by libtorch, so it is the same on every rank, world size and library version.
/// The last N mod M samples of each epoch are not used.
/// </summary>
internal sealed class MicroBatchStream
{
    private readonly long _datasetSize;
    private readonly long _seed;
    private (long Epoch, long[] Order)? _current;

    public MicroBatchStream(long datasetSize, int microBatchSize, long seed)
    {
        if (microBatchSize < 1 || microBatchSize > datasetSize)
            throw new ArgumentOutOfRangeException(nameof(microBatchSize), microBatchSize,
                $"the micro-batch size must lie between 1 and the {datasetSize} training samples");
        (_datasetSize, MicroBatchSize, _seed) = (datasetSize, microBatchSize, seed);
    }

    public int MicroBatchSize { get; }

    public long MicroBatchesPerEpoch => _datasetSize / MicroBatchSize;

    /// <summary>The training-set indices of micro-batch <paramref name="index"/> of the stream.</summary>
    public long[] Indices(long index)
    {
        long epoch = index / MicroBatchesPerEpoch, position = index % MicroBatchesPerEpoch;
        if (_current?.Epoch != epoch)
            _current = (epoch, Permutation(epoch));
        return _current.Value.Order.AsSpan((int)(position * MicroBatchSize), MicroBatchSize).ToArray();
    }

    /// <summary>Fisher–Yates driven by SplitMix64 seeded from (seed, epoch).</summary>
    private long[] Permutation(long epoch)
    {
        long[] order = new long[_datasetSize];
        for (long i = 0; i < order.LongLength; i++)
            order[i] = i;
        ulong state = unchecked((ulong)_seed * 0x9E3779B97F4A7C15UL ^ (ulong)epoch * 0xD1B54A32D192ED03UL);
        for (long i = order.LongLength - 1; i > 0; i--)
        {
            long j = (long)(SplitMix64(ref state) % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    private static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
