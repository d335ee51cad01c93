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
    public static void For(long length, int maxThreads, Action<long, long, int> body) => For(0, length, length, maxThreads, body);

    /// <summary>
    /// Calls <paramref name="body"/>(chunk index, start, count) once per chunk of a buffer of <paramref name="length"/>
    /// elements that lies in [<paramref name="offset"/>, <paramref name="end"/>), with the whole buffer's chunk indices and
    /// starts: a range must begin on a chunk's boundary, so that it runs the whole buffer's chunks, not chunks of its own.
    /// </summary>
    public static void For(long offset, long end, long length, int maxThreads, Action<long, long, int> body)
    {
        if (offset % ChunkElements != 0 || offset > end || end > length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"a range [{offset}, {end}) of {length} elements must start on a multiple of {ChunkElements}");
        long first = offset / ChunkElements, chunks = ChunkCount(end) - first;
        if (chunks <= 1 || maxThreads <= 1)
        {
            for (long chunk = first; chunk < first + chunks; chunk++)
                body(chunk, chunk * ChunkElements, CountOf(chunk, end));
            return;
        }
        Parallel.For(first, first + chunks, new ParallelOptions { MaxDegreeOfParallelism = maxThreads },
            chunk => body(chunk, chunk * ChunkElements, CountOf(chunk, end)));
    }

    private static int CountOf(long chunk, long end) => (int)Math.Min(ChunkElements, end - chunk * ChunkElements);
}
