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

    /// <summary>
    /// Bytes this rank has handed to all-reduce calls so far: each call's payload, its elements times
    /// their size. Not the bytes on the wire, which the library's algorithm decides (a ring sends and
    /// receives about 2(P − 1)/P of the payload per rank); a single process, which sends nothing,
    /// counts the payloads too, so the count says what a step carries whatever the world size.
    /// </summary>
    long AllReducedBytes { get; }

    void AllReduceSum(Span<float> buffer);
    void AllReduceSum(Span<double> buffer);

    /// <summary>
    /// Sums a contiguous float32, float64 or bfloat16 tensor in place. A bfloat16 sum adds each pair
    /// of addends in float32 and rounds it to bfloat16 (to nearest, ties to even, as libtorch converts).
    /// </summary>
    void AllReduceSum(torch.Tensor tensor);

    /// <summary>
    /// Sums several tensors in place as one communication phase, each as <see cref="AllReduceSum(torch.Tensor)"/>
    /// does, all complete on return: the step's float32 sums and its bfloat16 squares. Every rank must pass
    /// tensors of the same types and sizes in the same order. How they travel is the communicator's choice
    /// (one after the other over MPI, one group with NCCL).
    /// </summary>
    void AllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors);

    /// <summary>
    /// Starts an in-place sum of a contiguous float32, float64 or bfloat16 CPU tensor; the tensor must
    /// not be read or written until the returned request completes.
    /// </summary>
    IPendingAllReduce StartAllReduceSum(torch.Tensor tensor);

    /// <summary>
    /// Starts the sums of <see cref="AllReduceSumTogether"/> and returns at once, for a pipeline that works on
    /// one part of a buffer while the next is in flight. Sums started one after another complete in that order.
    /// <see cref="IPendingAllReduce.Wait"/> returns once work that follows may read the tensors: on the host, when the
    /// sums are complete (MPI's blocking calls, made by a thread of the communicator's own); on a GPU, once the
    /// device's stream is ordered after them (NCCL on a stream of its own; the host does not wait). Until every sum
    /// started has been waited for, the caller makes no other call on this communicator and leaves the tensors alone.
    /// </summary>
    IPendingAllReduce StartAllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors);

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
