using TorchSharp;

namespace HpcAdam.Collectives;

/// <summary>
/// The collectives HpcAdam needs, over every rank of the job. Every rank must make the same
/// calls in the same order with the same sizes; a failed call throws <see cref="MpiException"/>.
/// Sums are in place: on return every rank holds the same element-wise total.
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int Size { get; }

    /// <summary>Rank among the processes on this node (selects the GPU on a multi-GPU node).</summary>
    int LocalRank { get; }
    int LocalSize { get; }

    /// <summary>What carries the collectives, for logs: "single process" or the MPI library.</summary>
    string Description { get; }

    void AllReduceSum(Span<float> buffer);
    void AllReduceSum(Span<double> buffer);

    /// <summary>Sums a contiguous float32 or float64 CPU tensor in place.</summary>
    void AllReduceSum(torch.Tensor tensor);

    /// <summary>
    /// Starts an in-place sum of a contiguous float32 or float64 CPU tensor; the tensor must not
    /// be read or written until the returned request completes.
    /// </summary>
    IPendingAllReduce StartAllReduceSum(torch.Tensor tensor);

    void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged;

    /// <summary>Concatenates every rank's <paramref name="send"/> in rank order into <paramref name="receive"/> (Size × send.Length).</summary>
    void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged;

    void Barrier();

    /// <summary>Ends every process of the job with <paramref name="exitCode"/>; does not return.</summary>
    void Abort(int exitCode);

    /// <summary>Seconds since an arbitrary origin, for timing collectives.</summary>
    double WallTime();
}

/// <summary>A non-blocking all-reduce in flight. Disposing it waits for completion.</summary>
public interface IPendingAllReduce : IDisposable
{
    /// <summary>True once the sum is complete (and the buffer may be used).</summary>
    bool Test();

    void Wait();
}
