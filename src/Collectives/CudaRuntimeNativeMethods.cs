using System.Runtime.InteropServices;

namespace HpcAdam.Collectives;

/// <summary>
/// The few CUDA runtime calls TorchSharp does not offer: which device NCCL's calls on this thread
/// use (ncclCommInitRank takes the current device), the events and the stream that order NCCL's
/// work against libtorch's, and versions for doctor. Every function returns
/// a cudaError_t: 0 is cudaSuccess.
/// </summary>
internal static partial class CudaRuntimeNativeMethods
{
    internal const string Library = "cudart";

    static CudaRuntimeNativeMethods() => NativeLibraries.RegisterResolver();

    [LibraryImport(Library, EntryPoint = "cudaSetDevice")]
    internal static partial int SetDevice(int device);

    /// <summary>cudaErrorNotReady: cudaStreamQuery's answer while work on the stream is still running.</summary>
    internal const int NotReady = 600;

    /// <summary>cudaStreamQuery(cudaStream_t): 0 once all work on the stream is done, <see cref="NotReady"/> before.</summary>
    [LibraryImport(Library, EntryPoint = "cudaStreamQuery")]
    internal static partial int StreamQuery(IntPtr stream);

    /// <summary>cudaEventCreate(cudaEvent_t*): an event with timing, for <see cref="CudaEventClock"/>.</summary>
    [LibraryImport(Library, EntryPoint = "cudaEventCreate")]
    internal static partial int EventCreate(out IntPtr cudaEvent);

    /// <summary>cudaEventRecord(cudaEvent_t, cudaStream_t): the event completes when the stream's work queued before it has.</summary>
    [LibraryImport(Library, EntryPoint = "cudaEventRecord")]
    internal static partial int EventRecord(IntPtr cudaEvent, IntPtr stream);

    /// <summary>cudaEventCreateWithFlags(cudaEvent_t*, unsigned): with <see cref="EventDisableTiming"/>, an event only to order streams by.</summary>
    [LibraryImport(Library, EntryPoint = "cudaEventCreateWithFlags")]
    internal static partial int EventCreateWithFlags(out IntPtr cudaEvent, uint flags);

    internal const uint EventDisableTiming = 2;

    /// <summary>cudaEventQuery(cudaEvent_t): 0 once the work before the event is done, <see cref="NotReady"/> before.</summary>
    [LibraryImport(Library, EntryPoint = "cudaEventQuery")]
    internal static partial int EventQuery(IntPtr cudaEvent);

    /// <summary>
    /// cudaStreamCreateWithFlags(cudaStream_t*, unsigned): with <see cref="StreamNonBlocking"/>, a stream that does not
    /// wait for the legacy null stream, where libtorch queues its work, nor the null stream for it: only events order them.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "cudaStreamCreateWithFlags")]
    internal static partial int StreamCreateWithFlags(out IntPtr stream, uint flags);

    internal const uint StreamNonBlocking = 1;

    [LibraryImport(Library, EntryPoint = "cudaStreamDestroy")]
    internal static partial int StreamDestroy(IntPtr stream);

    /// <summary>cudaStreamWaitEvent(cudaStream_t, cudaEvent_t, unsigned): work queued on the stream after this call waits for the event; the host does not.</summary>
    [LibraryImport(Library, EntryPoint = "cudaStreamWaitEvent")]
    internal static partial int StreamWaitEvent(IntPtr stream, IntPtr cudaEvent, uint flags);

    [LibraryImport(Library, EntryPoint = "cudaEventSynchronize")]
    internal static partial int EventSynchronize(IntPtr cudaEvent);

    /// <summary>cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end), with a resolution of about 0.5 µs.</summary>
    [LibraryImport(Library, EntryPoint = "cudaEventElapsedTime")]
    internal static partial int EventElapsedTime(out float milliseconds, IntPtr start, IntPtr end);

    [LibraryImport(Library, EntryPoint = "cudaEventDestroy")]
    internal static partial int EventDestroy(IntPtr cudaEvent);

    /// <summary>cudaMemGetInfo(size_t* free, size_t* total) of the current device.</summary>
    [LibraryImport(Library, EntryPoint = "cudaMemGetInfo")]
    internal static partial int MemGetInfo(out nuint free, out nuint total);

    [LibraryImport(Library, EntryPoint = "cudaGetDeviceCount")]
    internal static partial int GetDeviceCount(out int count);

    [LibraryImport(Library, EntryPoint = "cudaRuntimeGetVersion")]
    internal static partial int RuntimeGetVersion(out int version);

    [LibraryImport(Library, EntryPoint = "cudaDriverGetVersion")]
    internal static partial int DriverGetVersion(out int version);

    /// <summary>A static string the runtime owns: marshalled as a pointer and copied, never freed.</summary>
    [LibraryImport(Library, EntryPoint = "cudaGetErrorString")]
    internal static partial IntPtr GetErrorString(int error);

    /// <summary>Throws, naming <paramref name="call"/> and the runtime's words, when <paramref name="error"/> is not cudaSuccess.</summary>
    internal static void Check(int error, string call)
    {
        if (error != 0)
            throw new InvalidOperationException($"{call} failed: {Marshal.PtrToStringUTF8(GetErrorString(error))} (cudaError_t {error})");
    }
}

/// <summary>What doctor reports of the CUDA runtime, read only where a GPU is visible.</summary>
public static class CudaRuntime
{
    /// <summary>"runtime 13.0, driver 13.0", or why the runtime cannot be asked.</summary>
    public static string Versions()
    {
        try
        {
            CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.RuntimeGetVersion(out int runtime), "cudaRuntimeGetVersion");
            CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.DriverGetVersion(out int driver), "cudaDriverGetVersion");
            return $"runtime {Text(runtime)}, driver {Text(driver)}";
        }
        catch (Exception error) when (error is DllNotFoundException or EntryPointNotFoundException or InvalidOperationException)
        {
            return $"CUDA runtime version unknown: {error.Message}";
        }
    }

    /// <summary>Bytes free on cuda:<paramref name="device"/> now, which becomes this thread's current device.</summary>
    public static long FreeBytes(int device)
    {
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.SetDevice(device), "cudaSetDevice");
        CudaRuntimeNativeMethods.Check(CudaRuntimeNativeMethods.MemGetInfo(out nuint free, out _), "cudaMemGetInfo");
        return (long)free;
    }

    /// <summary>CUDA's version code, 1000·major + 10·minor, as "major.minor".</summary>
    private static string Text(int code) => $"{code / 1000}.{code % 1000 / 10}";
}
