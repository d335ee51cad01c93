using TorchSharp;

namespace HpcAdam.Collectives;

/// <summary>
/// Sums tensors on this rank's GPU with NCCL; everything else (host buffers, broadcasts, the
/// gathers of a few numbers) goes through the communicator it was built on, MPI. The NCCL
/// communicator is made the usual way: rank 0 draws a unique id, MPI broadcasts it, every rank
/// joins with ncclCommInitRank on its own device. A blocking sum runs on the null stream, where
/// libtorch's own work runs, so it stays in order with it; the pipelined sums of a bucketed step run
/// on a stream of their own, ordered against libtorch's work by CUDA events.
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    private readonly ICommunicator _host;
    private IntPtr _communicator;
    private IntPtr _stream;   // NCCL's own, for the pipelined sums; made on first use
    private long _ncclBytes;

    private NcclCommunicator(ICommunicator host, int device, IntPtr communicator, string version)
    {
        (_host, Device, _communicator) = (host, device, communicator);
        Description = $"NCCL {version} on cuda:{device}; host collectives over {host.Description}";
    }

    /// <summary>
    /// Joins every rank of <paramref name="host"/> into one NCCL communicator on CUDA device
    /// <paramref name="device"/>; every rank must call it. <paramref name="host"/> stays the caller's.
    /// </summary>
    public static NcclCommunicator Create(ICommunicator host, int device)
    {
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.SetDevice(device), $"cudaSetDevice({device})");
        Check(NcclNativeMethods.GetVersion(out int version), "ncclGetVersion", host.Rank);
        NcclUniqueId id = default;
        if (host.Rank == 0)
            Check(NcclNativeMethods.GetUniqueId(out id), "ncclGetUniqueId", host.Rank);
        host.Broadcast(id.AsSpan(), root: 0);
        Check(NcclNativeMethods.CommInitRank(out IntPtr communicator, host.Size, id, host.Rank), "ncclCommInitRank", host.Rank);
        return new NcclCommunicator(host, device, communicator, NcclLibrary.VersionText(version));
    }

    /// <summary>The CUDA device this rank's NCCL communicator works on.</summary>
    public int Device { get; }

    public int Rank => _host.Rank;
    public int Size => _host.Size;
    public int LocalRank => _host.LocalRank;
    public int LocalSize => _host.LocalSize;
    public string Description { get; }

    /// <summary>The payloads of NCCL's sums and of the host communicator's.</summary>
    public long AllReducedBytes => _ncclBytes + _host.AllReducedBytes;

    public void AllReduceSum(Span<float> buffer) => _host.AllReduceSum(buffer);
    public void AllReduceSum(Span<double> buffer) => _host.AllReduceSum(buffer);

    public void AllReduceSum(torch.Tensor tensor) => AllReduceSumTogether([tensor]);

    /// <summary>
    /// Sums contiguous float32, float64 or bfloat16 tensors in place: with NCCL on this rank's GPU, as
    /// one group (ncclGroupStart … ncclGroupEnd, which NCCL launches as one operation), or through the
    /// host communicator when they live in host memory. Returns once the sums are complete, polling
    /// NCCL for an asynchronous error (a peer that died) meanwhile. NCCL adds bfloat16 in its own
    /// kernels: every partial sum is a bfloat16, as in the MPI shim's sum, added with the GPU's
    /// bfloat16 add on sm_80 and newer and through float32 before, in NCCL's order (ring or tree).
    /// </summary>
    public void AllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors)
    {
        if (tensors.All(tensor => tensor.device_type != DeviceType.CUDA))
        {
            _host.AllReduceSumTogether(tensors);
            return;
        }
        SumAsGroup(tensors, IntPtr.Zero);
        WaitForNullStream();
    }

    /// <summary>
    /// Starts the sums of <see cref="AllReduceSumTogether"/> on a stream of NCCL's own, which waits (by an event) for
    /// the work libtorch queued before on the null stream, which wrote the tensors. Waiting for the returned request
    /// makes the null stream wait for the sums (an event again): the host goes on at once, so the optimizer's kernels
    /// for one bucket can be queued while NCCL still sums the next. A peer that dies leaves NCCL's kernels waiting,
    /// and the step's next wait on the device with them; the step's watchdog (Check:TimeoutSeconds) ends the job then.
    /// </summary>
    public IPendingAllReduce StartAllReduceSumTogether(IReadOnlyList<torch.Tensor> tensors)
    {
        if (tensors.All(tensor => tensor.device_type != DeviceType.CUDA))
            return _host.StartAllReduceSumTogether(tensors);
        if (_stream == IntPtr.Zero)
            CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.StreamCreateWithFlags(out _stream, CudaRuntimeNativeMethods.StreamNonBlocking),
                "cudaStreamCreateWithFlags");
        WaitOn(_stream, RecordEvent(IntPtr.Zero));
        SumAsGroup(tensors, _stream);
        return new PendingSum(RecordEvent(_stream));
    }

    /// <summary>One NCCL group of in-place sums on <paramref name="stream"/>.</summary>
    private void SumAsGroup(IReadOnlyList<torch.Tensor> tensors, IntPtr stream)
    {
        // Every tensor is checked before the group opens: a group left open would hold back NCCL's next call.
        int[] dataTypes = [.. tensors.Select(DataType)];
        Check(NcclNativeMethods.GroupStart(), "ncclGroupStart", Rank);
        for (int i = 0; i < tensors.Count; i++)
        {
            void* data = (void*)Address(tensors[i]);
            Check(NcclNativeMethods.AllReduce(data, data, (nuint)tensors[i].numel(), dataTypes[i], NcclNativeMethods.Sum, _communicator, stream),
                "ncclAllReduce", Rank);
            _ncclBytes += tensors[i].numel() * tensors[i].element_size();
        }
        Check(NcclNativeMethods.GroupEnd(), "ncclGroupEnd", Rank);
    }

    /// <summary>An event recorded now on <paramref name="stream"/>: it completes when the work queued there before it has.</summary>
    private static IntPtr RecordEvent(IntPtr stream)
    {
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventCreateWithFlags(out IntPtr cudaEvent, CudaRuntimeNativeMethods.EventDisableTiming),
            "cudaEventCreateWithFlags");
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventRecord(cudaEvent, stream), "cudaEventRecord");
        return cudaEvent;
    }

    /// <summary>
    /// Work queued on <paramref name="waiting"/> from now on waits for <paramref name="cudaEvent"/>, which is then destroyed:
    /// CUDA releases an event destroyed before it completes once it has.
    /// </summary>
    private static void WaitOn(IntPtr waiting, IntPtr cudaEvent)
    {
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.StreamWaitEvent(waiting, cudaEvent, 0), "cudaStreamWaitEvent");
        _ = CudaRuntimeNativeMethods.EventDestroy(cudaEvent);
    }

    /// <summary>Sums in flight on NCCL's stream: waiting orders the null stream after them.</summary>
    private sealed class PendingSum(IntPtr done) : IPendingAllReduce
    {
        private IntPtr _done = done;

        public bool Test() => _done == IntPtr.Zero || CudaRuntimeNativeMethods.EventQuery(_done) == 0;

        public void Wait()
        {
            if (_done == IntPtr.Zero)
                return;
            WaitOn(IntPtr.Zero, _done);
            _done = IntPtr.Zero;
        }

        public void Dispose() => Wait();
    }

    /// <summary>The ncclDataType_t of a tensor NCCL can sum in place on this rank's GPU.</summary>
    private int DataType(torch.Tensor tensor)
    {
        if (tensor.device_type != DeviceType.CUDA || tensor.device_index != Device)
            throw new ArgumentException($"all-reduce: the tensor is on {tensor.device}; this rank's NCCL communicator works on cuda:{Device}");
        if (!tensor.is_contiguous())
            throw new ArgumentException("all-reduce: the tensor is not contiguous; sum the flat buffer it views, or call .contiguous() first");
        return tensor.dtype switch
        {
            torch.ScalarType.Float32 => NcclNativeMethods.Float32,
            torch.ScalarType.Float64 => NcclNativeMethods.Float64,
            torch.ScalarType.BFloat16 => NcclNativeMethods.BFloat16,
            _ => throw new ArgumentException($"all-reduce: the tensor is {tensor.dtype}; NCCL sums float32, float64 and bfloat16 here"),
        };
    }

    /// <summary>Where a contiguous tensor's first element lives, on whatever device: its storage's address plus its offset into it.</summary>
    internal static IntPtr Address(torch.Tensor tensor)
    {
        long offsetBytes = tensor.storage_offset() * tensor.element_size();
        return tensor.dtype switch
        {
            torch.ScalarType.Float32 => tensor.storage<float>().data_ptr(),
            torch.ScalarType.Float64 => tensor.storage<double>().data_ptr(),
            _ => tensor.storage<byte>().data_ptr(),
        } + (nint)offsetBytes;
    }

    /// <summary>Until the null stream is idle; a peer's failure shows as NCCL's asynchronous error, which aborts the communicator.</summary>
    private void WaitForNullStream()
    {
        var spin = new SpinWait();
        while (true)
        {
            int state = CudaRuntimeNativeMethods.StreamQuery(IntPtr.Zero);
            if (state == 0)
                return;
            if (state != CudaRuntimeNativeMethods.NotReady)
                CudaRuntimeNativeMethods.Check(state, "cudaStreamQuery");
            Check(NcclNativeMethods.CommGetAsyncError(_communicator, out int asyncError), "ncclCommGetAsyncError", Rank);
            if (asyncError is not (0 or NcclNativeMethods.InProgress))
            {
                // Its own result cannot change what follows: the error below ends the job.
                _ = NcclNativeMethods.CommAbort(_communicator);
                _communicator = IntPtr.Zero;
                Check(asyncError, "ncclAllReduce (asynchronous)", Rank);
            }
            spin.SpinOnce();
        }
    }

    public IPendingAllReduce StartAllReduceSum(torch.Tensor tensor) => tensor.device_type == DeviceType.CUDA
        ? StartAllReduceSumTogether([tensor])
        : _host.StartAllReduceSum(tensor);

    public void Broadcast<T>(Span<T> buffer, int root) where T : unmanaged => _host.Broadcast(buffer, root);
    public void AllGather<T>(ReadOnlySpan<T> send, Span<T> receive) where T : unmanaged => _host.AllGather(send, receive);
    public void Barrier() => _host.Barrier();
    public double WallTime() => _host.WallTime();

    /// <summary>NCCL's kernels may be waiting for a peer that will never come: abort them, then the job.</summary>
    public void Abort(int exitCode)
    {
        AbortNccl();
        _host.Abort(exitCode);
    }

    /// <summary>
    /// Ends the NCCL communicator at once (ncclCommAbort) instead of the orderly ncclCommDestroy, which
    /// waits for work in flight: for a rank leaving on an error while its peers may sit in a collective.
    /// </summary>
    public void AbortNccl()
    {
        if (_communicator == IntPtr.Zero)
            return;
        _ = NcclNativeMethods.CommAbort(_communicator);   // nothing to do if it fails: the rank is leaving
        _communicator = IntPtr.Zero;
    }

    public void Dispose()
    {
        if (_communicator == IntPtr.Zero)
            return;
        IntPtr communicator = _communicator;
        _communicator = IntPtr.Zero;
        Check(NcclNativeMethods.CommDestroy(communicator), "ncclCommDestroy", Rank);
        if (_stream != IntPtr.Zero)
            _ = CudaRuntimeNativeMethods.StreamDestroy(_stream);   // released once its work is done
    }

    internal static void Check(int result, string call, int rank)
    {
        if (result != 0)
            throw new NcclException(call, rank, result, NcclNativeMethods.ErrorText(result));
    }
}
