using System.Numerics;
using System.Runtime.CompilerServices;

namespace HpcAdam.Optim;

/// <summary>
/// An elementwise update of one <see cref="Vector{T}"/> across up to five aligned streams
/// (for Adam: w, m, v, S1, S2). Implemented by structs so the JIT inlines it into the pass.
/// </summary>
internal unsafe interface IVectorUpdate<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    void Update(T* s0, T* s1, T* s2, T* s3, T* s4);
}

/// <summary>
/// Up to five flat buffers of one length; the first <see cref="Written"/> are read and written,
/// the rest only read. An absent stream is 0.
/// </summary>
internal readonly record struct Streams(int Written, nint S0, nint S1 = 0, nint S2 = 0, nint S3 = 0, nint S4 = 0);

/// <summary>Runs an <see cref="IVectorUpdate{T}"/> over the flat buffers, chunk by chunk on several threads.</summary>
internal static unsafe class VectorPass
{
    public static void Run<T, TUpdate>(TUpdate update, Streams streams, long length, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TUpdate : struct, IVectorUpdate<T> =>
        ChunkedParallel.For(length, maxThreads, (_, start, count) => RunChunk<T, TUpdate>(update, streams, start, count));

    // Optimised from the first call: tiered compilation would otherwise run the unoptimised pass
    // for the first ~100 ms of steps, about ten times slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunChunk<T, TUpdate>(TUpdate update, Streams streams, long start, int count)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TUpdate : struct, IVectorUpdate<T>
    {
        T* s0 = At<T>(streams.S0, start), s1 = At<T>(streams.S1, start), s2 = At<T>(streams.S2, start),
            s3 = At<T>(streams.S3, start), s4 = At<T>(streams.S4, start);
        int width = Vector<T>.Count, i = 0;
        for (; i <= count - width; i += width)
            update.Update(s0 + i, Offset(s1, i), Offset(s2, i), Offset(s3, i), Offset(s4, i));

        // The tail runs the same vector update on zero-padded copies, so each optimizer states
        // its formula exactly once.
        int tail = count - i;
        if (tail == 0)
            return;
        T* padded = stackalloc T[5 * width];
        new Span<T>(padded, 5 * width).Clear();
        T*[] source = [s0, s1, s2, s3, s4];
        T*[] copy = new T*[5];
        for (int s = 0; s < 5; s++)
        {
            copy[s] = source[s] == null ? null : padded + s * width;
            if (source[s] != null)
                Copy(source[s] + i, copy[s], tail);
        }
        update.Update(copy[0], copy[1], copy[2], copy[3], copy[4]);
        for (int s = 0; s < streams.Written; s++)
            Copy(copy[s], source[s] + i, tail);
    }

    /// <summary>A double coefficient rounded once to <typeparamref name="T"/> and copied into every lane.</summary>
    public static Vector<T> Broadcast<T>(double value) where T : unmanaged, IFloatingPointIeee754<T> => new(T.CreateTruncating(value));

    private static T* At<T>(nint stream, long start) where T : unmanaged => stream == 0 ? null : (T*)stream + start;

    private static T* Offset<T>(T* stream, int i) where T : unmanaged => stream == null ? null : stream + i;

    private static void Copy<T>(T* from, T* to, int count) where T : unmanaged =>
        new ReadOnlySpan<T>(from, count).CopyTo(new Span<T>(to, count));
}
