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
    private readonly List<IntPtr> _events = [];

    /// <summary>A clock on cuda:<paramref name="device"/>, which becomes this thread's current device.</summary>
    public CudaEventClock(int device) =>
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.SetDevice(device), "cudaSetDevice");

    /// <summary>Mark <paramref name="index"/> now on the device's null stream; the events are made as the marks first need them, then reused.</summary>
    public void Mark(int index)
    {
        while (_events.Count <= index)
        {
            CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventCreate(out IntPtr cudaEvent), "cudaEventCreate");
            _events.Add(cudaEvent);
        }
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventRecord(_events[index], IntPtr.Zero), "cudaEventRecord");
    }

    /// <summary>Milliseconds from each of the first <paramref name="marks"/> marks to the next, into <paramref name="milliseconds"/>, once the last has completed on the device.</summary>
    public void Intervals(int marks, List<double> milliseconds)
    {
        milliseconds.Clear();
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventSynchronize(_events[marks - 1]), "cudaEventSynchronize");
        for (int i = 0; i + 1 < marks; i++)
        {
            CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.EventElapsedTime(out float ms, _events[i], _events[i + 1]), "cudaEventElapsedTime");
            milliseconds.Add(ms);
        }
    }

    public void Dispose()
    {
        foreach (IntPtr cudaEvent in _events)
            _ = CudaRuntimeNativeMethods.EventDestroy(cudaEvent);
    }
}
