using System.Globalization;
using TorchSharp;

namespace HpcAdam.Collectives;

/// <summary>
/// The communicator over MPI_COMM_WORLD through the native shim. MPI can be initialised once
/// per process, so there is at most one; disposing it finalises MPI.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    /// <summary>
    /// Lowers the largest chunk one MPI call may carry (default 2^31 − 1 elements), so tests
    /// can exercise the chunked path without 8 GiB buffers. Every rank must see the same value.
    /// </summary>
    public const string MaxChunkVariable = "HPCADAM_MAX_CHUNK_ELEMENTS";

    private static int s_created;
    private bool _disposed;
    private CollectiveThread? _collectiveThread;

    private MpiCommunicator(ThreadLevel providedThreadLevel)
    {
        ProvidedThreadLevel = providedThreadLevel;
        Check(NativeMethods.Rank(out int rank), "MPI_Comm_rank", rank: -1);
        Rank = rank;
        Check(NativeMethods.Size(out int size), "MPI_Comm_size");
        Size = size;
        Check(NativeMethods.LocalRank(out int localRank, out int localSize), "MPI_Comm_split_type");
        LocalRank = localRank;
        LocalSize = localSize;
    }

    public int Rank { get; }
    public int Size { get; }
    public int LocalRank { get; }
    public int LocalSize { get; }
    public ThreadLevel ProvidedThreadLevel { get; }
    public string Description => $"MPI ({MpiLibrary.Describe().Name}), thread level {ProvidedThreadLevel.ToString().ToLowerInvariant()}";

    /// <summary>Largest number of elements (bytes for broadcast and all-gather) one MPI call carries.</summary>
    public static long MaxChunkElements => NativeMethods.MaxChunkElements();

    /// <summary>Initialises MPI with at least <paramref name="required"/> thread support.</summary>
    public static MpiCommunicator Initialize(ThreadLevel required)
    {
        if (Interlocked.Exchange(ref s_created, 1) != 0)
            throw new InvalidOperationException("MPI was already initialised in this process; MPI allows it once");
        int code = NativeMethods.Init((int)required, out int provided);
        if (code != 0)
            throw new MpiException("MPI_Init_thread", rank: -1, code, MpiLibrary.ErrorString(code));
        var communicator = new MpiCommunicator((ThreadLevel)provided);
        if (communicator.ProvidedThreadLevel < required)
            throw new MpiException("MPI_Init_thread", communicator.Rank, 0,
                $"thread level {required} was required but the MPI library provides only {communicator.ProvidedThreadLevel}");
        ApplyChunkLimitFromEnvironment();
        return communicator;
    }

    private static void ApplyChunkLimitFromEnvironment()
    {
        string? text = Environment.GetEnvironmentVariable(MaxChunkVariable);
        if (string.IsNullOrEmpty(text))
            return;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long limit) || limit < 1)
            throw new ArgumentException($"{MaxChunkVariable}={text} is not a positive whole number of elements");
        NativeMethods.SetMaxChunkElements(limit);
    }

    public long AllReducedBytes { get; private set; }

    public void AllReduceSum(Span<float> buffer)
    {
        fixed (float* data = buffer)
            Check(NativeMethods.AllReduceSum(data, buffer.Length, NativeMethods.Float32), "MPI_Allreduce");
        AllReducedBytes += (long)buffer.Length * sizeof(float);
    }

    public void AllReduceSum(Span<double> buffer)
    {
        fixed (double* data = buffer)
            Check(NativeMethods.AllReduceSum(data, buffer.Length, NativeMethods.Float64), "MPI_Allreduce");
        AllReducedBytes += (long)buffer.Length * sizeof(double);
    }

    /// <summary>
    /// Sums a contiguous float32, float64 or bfloat16 tensor in place. A GPU tensor is staged through
    /// host memory (copied out, summed, copied back): MPI is not assumed to be CUDA-aware.
    /// </summary>
    public void AllReduceSum(torch.Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CPU)
        {
            using torch.Tensor staged = tensor.cpu();
            AllReduceSum(staged);
            tensor.copy_(staged);
            return;
        }
        TensorMemory memory = TensorMemory.Of(tensor, "all-reduce");
        Check(NativeMethods.AllReduceSum(memory.Data, memory.Count, memory.ElementType), "MPI_Allreduce");
        AllReducedBytes += memory.Bytes;
    }

    /// <summary>
    /// One blocking MPI_Allreduce per tensor, in the order given. Not MPI_Iallreduce started for each and
    /// waited for together: Open MPI's non-blocking collectives (libnbc) are not tuned as its blocking ones
    /// are, and the step's float32 and bfloat16 parts took 1.6 to 1.9 times as long so (docs/training.md,
    /// "Squares in bfloat16").
    /// </summary>
    public void AllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors)
    {
        foreach (torch.Tensor tensor in tensors)
            AllReduceSum(tensor);
    }

    public IPendingAllReduce StartAllReduceSum(torch.Tensor tensor)
    {
        TensorMemory memory = TensorMemory.Of(tensor, "all-reduce");
        Check(NativeMethods.IAllReduceSum(memory.Data, memory.Count, memory.ElementType, out IntPtr request), "MPI_Iallreduce");
        AllReducedBytes += memory.Bytes;
        return new PendingMpiAllReduce(this, request, tensor);
    }

    /// <summary>
    /// The blocking calls of <see cref="AllReduceSumTogether"/>, made in order by a thread of this communicator's
    /// own (<see cref="CollectiveThread"/>); a GPU tensor is staged through host memory there, as always over MPI.
    /// </summary>
    public IPendingAllReduce StartAllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors)
    {
        foreach (torch.Tensor tensor in tensors)
            if (tensor.device_type == DeviceType.CPU)
                TensorMemory.Of(tensor, "all-reduce");   // refused here, on the caller's thread, rather than when its turn comes
        _collectiveThread ??= new CollectiveThread($"MPI collectives of rank {Rank}");
        return _collectiveThread.Start(() => AllReduceSumTogether(tensors));
    }

    public void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged
    {
        fixed (T* data = buffer)
            Check(NativeMethods.Broadcast(data, (long)buffer.Length * sizeof(T), root), "MPI_Bcast");
    }

    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (receive.Length != (long)send.Length * Size)
            throw new ArgumentException($"all-gather: receive holds {receive.Length} elements; it must hold Size × {send.Length} = {(long)send.Length * Size}");
        fixed (T* sendData = send)
        fixed (T* receiveData = receive)
            Check(NativeMethods.AllGather(sendData, receiveData, (long)send.Length * sizeof(T)), "MPI_Allgather");
    }

    public void Barrier() => Check(NativeMethods.Barrier(), "MPI_Barrier");

    public void Abort(int exitCode)
    {
        int code = NativeMethods.Abort(exitCode);
        // MPI_Abort returned, so the job could not be torn down; leaving is all that remains.
        Console.Error.WriteLine($"MPI_Abort failed on rank {Rank}: {MpiLibrary.ErrorString(code)}; exiting this rank only");
        Environment.Exit(exitCode);
    }

    public double WallTime() => NativeMethods.WallTime();

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        _collectiveThread?.Dispose();
        Check(NativeMethods.Finalize(), "MPI_Finalize");
    }

    internal void Check(int code, string call) => Check(code, call, Rank);

    private static void Check(int code, string call, int rank)
    {
        if (code != 0)
            throw new MpiException(call, rank, code, MpiLibrary.ErrorString(code));
    }
}
