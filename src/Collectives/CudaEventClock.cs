namespace HpcAdam.Collectives;

/// <summary>
/// Marks on a GPU's timeline: CUDA events recorded on the device's null stream, where TorchSharp
/// queues its work, so the time between two marks is the device's time between them, not the
/// host's time to queue the work in between (which on a GPU returns long before the work is done).
/// Recording costs no synchronisation; <see cref="Intervals"/> waits for the last mark once. The
/// CUDA runtime through P/Invoke (TorchSharp has no events). Ran on an H200 (docs/running.md, "GPUs").
/// </summary>
public sealed class CudaEventClock : IDisposable
{
    private readonly IntPtr[] _events;

    /// <summary><paramref name="marks"/> events on cuda:<paramref name="device"/>, which becomes this thread's current device.</summary>
    public CudaEventClock(int device, int marks)
    {
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.SetDevice(device), "cudaSetDevice");
        _events = new IntPtr[marks];
        for (int i = 0; i < marks; i++)
            CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventCreate(out _events[i]), "cudaEventCreate");
    }

    /// <summary>Mark <paramref name="index"/> now on the device's null stream.</summary>
    public void Mark(int index) => CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventRecord(_events[index], IntPtr.Zero), "cudaEventRecord");

    /// <summary>Milliseconds from each mark to the next, once the last has completed on the device.</summary>
    public void Intervals(Span<double> milliseconds)
    {
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventSynchronize(_events[^1]), "cudaEventSynchronize");
        for (int i = 0; i + 1 < _events.Length; i++)
        {
            CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventElapsedTime(out float ms, _events[i], _events[i + 1]), "cudaEventElapsedTime");
            milliseconds[i] = ms;
        }
    }

    public void Dispose()
    {
        foreach (IntPtr cudaEvent in _events)
            _ = CudaRuntimeNativeMethods.EventDestroy(cudaEvent);
    }
}
