namespace HpcAdam.Optim;

/// <summary>
/// Splits a flat buffer into fixed chunks and runs them on up to a given number of threads.
/// The chunking depends only on the length, never on the thread count, so reductions summed
/// chunk by chunk give the same bits on every rank and at every thread count.
/// </summary>
internal static class ChunkedParallel
{
    /// <summary>Elements per chunk: 128 KiB of float32 per buffer, a few L2-sized streams per thread.</summary>
    public const int ChunkElements = 1 << 15;

    public static long ChunkCount(long length) => (length + ChunkElements - 1) / ChunkElements;

    /// <summary>Calls <paramref name="body"/>(chunk index, start, count) once per chunk.</summary>
    public static void For(long length, int maxThreads, Action<long, long, int> body)
    {
        long chunks = ChunkCount(length);
        if (chunks <= 1 || maxThreads <= 1)
        {
            for (long chunk = 0; chunk < chunks; chunk++)
                body(chunk, chunk * ChunkElements, CountOf(chunk, length));
            return;
        }
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = maxThreads },
            chunk => body(chunk, chunk * ChunkElements, CountOf(chunk, length)));
    }

    private static int CountOf(long chunk, long length) => (int)Math.Min(ChunkElements, length - chunk * ChunkElements);
}
