using TorchSharp;

namespace HpcAdam.Collectives;

/// <summary>
/// The world of one process, used when no launcher started the program: every collective is
/// the identity, so the trainer runs unchanged on a laptop without MPI.
/// </summary>
public sealed class SingleProcessCommunicator : ICommunicator
{
    public int Rank => 0;
    public int Size => 1;
    public int LocalRank => 0;
    public int LocalSize => 1;
    public string Description => "single process (no launcher detected)";

    /// <summary>The payloads of the all-reduce calls, which one process never sends (<see cref="ICommunicator.AllReducedBytes"/>).</summary>
    public long AllReducedBytes { get; private set; }

    public void AllReduceSum(Span<float> buffer) => AllReducedBytes += (long)buffer.Length * sizeof(float);

    public void AllReduceSum(Span<double> buffer) => AllReducedBytes += (long)buffer.Length * sizeof(double);

    /// <summary>The sum over one process is the tensor itself; a host tensor is still checked as MPI would check it.</summary>
    public void AllReduceSum(torch.Tensor tensor)
    {
        if (tensor.device_type == DeviceType.CPU)
            TensorMemory.Of(tensor, "all-reduce");
        AllReducedBytes += tensor.numel() * tensor.element_size();
    }

    public void AllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors)
    {
        foreach (torch.Tensor tensor in tensors)
            AllReduceSum(tensor);
    }

    public IPendingAllReduce StartAllReduceSum(torch.Tensor tensor)
    {
        AllReducedBytes += TensorMemory.Of(tensor, "all-reduce").Bytes;
        return CompletedAllReduce.Instance;
    }

    public IPendingAllReduce StartAllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors)
    {
        AllReduceSumTogether(tensors);
        return CompletedAllReduce.Instance;
    }

    public void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged
    {
        if (root != 0)
            throw new ArgumentOutOfRangeException(nameof(root), root, "broadcast root must be 0 in a single-process world");
    }

    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged
    {
        if (receive.Length != send.Length)
            throw new ArgumentException($"all-gather: receive holds {receive.Length} elements; it must hold Size × {send.Length} = {send.Length}");
        send.CopyTo(receive);
    }

    public void Barrier() { }

    public void Abort(int exitCode) => Environment.Exit(exitCode);

    public double WallTime() => System.Diagnostics.Stopwatch.GetTimestamp() / (double)System.Diagnostics.Stopwatch.Frequency;

    public void Dispose() { }

    private sealed class CompletedAllReduce : IPendingAllReduce
    {
        public static readonly CompletedAllReduce Instance = new();
        public bool Test() => true;
        public void Wait() { }
        public void Dispose() { }
    }
}
