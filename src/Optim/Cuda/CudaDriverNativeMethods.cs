using System.Runtime.InteropServices;

namespace HpcAdam.Optim.Cuda;

/// <summary>
/// The CUDA driver calls (cuda.h) that load and launch the fused kernels: libcuda.so.1, loaded
/// lazily (or from HPCADAM_CUDA_DRIVER_LIBRARY), so a CPU machine never touches it. Handles
/// (CUcontext, CUmodule, CUfunction, CUstream) are pointers, CUdevice an int; every function
/// returns a CUresult, 0 is CUDA_SUCCESS. Where cuda.h maps a name to a versioned symbol
/// (#define cuCtxPushCurrent cuCtxPushCurrent_v2), the entry point is that symbol.
/// Checked against cuda.h's signatures by a probe library here; ran on an H200.
/// </summary>
internal static unsafe partial class CudaDriverNativeMethods
{
    internal const string Library = "cuda";

    /// <summary>CUdevice_attribute values.</summary>
    internal const int MultiprocessorCount = 16, ComputeCapabilityMajor = 75, ComputeCapabilityMinor = 76;

    static CudaDriverNativeMethods() => CudaLibraries.RegisterResolver();

    [LibraryImport(Library, EntryPoint = "cuInit")]
    internal static partial int Init(uint flags);

    [LibraryImport(Library, EntryPoint = "cuDeviceGet")]
    internal static partial int DeviceGet(out int device, int ordinal);

    [LibraryImport(Library, EntryPoint = "cuDeviceGetAttribute")]
    internal static partial int DeviceGetAttribute(out int value, int attribute, int device);

    /// <summary>The device's primary context: the one the CUDA runtime, and so libtorch, works in.</summary>
    [LibraryImport(Library, EntryPoint = "cuDevicePrimaryCtxRetain")]
    internal static partial int DevicePrimaryCtxRetain(out IntPtr context, int device);

    [LibraryImport(Library, EntryPoint = "cuCtxPushCurrent_v2")]
    internal static partial int CtxPushCurrent(IntPtr context);

    [LibraryImport(Library, EntryPoint = "cuCtxPopCurrent_v2")]
    internal static partial int CtxPopCurrent(out IntPtr context);

    /// <summary>cuModuleLoadData(CUmodule*, const void* image): a CUBIN or NUL-terminated PTX.</summary>
    [LibraryImport(Library, EntryPoint = "cuModuleLoadData")]
    internal static partial int ModuleLoadData(out IntPtr module, byte* image);

    [LibraryImport(Library, EntryPoint = "cuModuleGetFunction", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int ModuleGetFunction(out IntPtr function, IntPtr module, string name);

    /// <summary>
    /// cuLaunchKernel(f, gridDim x/y/z, blockDim x/y/z, sharedMemBytes, hStream, void** kernelParams,
    /// void** extra): kernelParams holds one pointer per kernel argument, to the argument's value.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "cuLaunchKernel")]
    internal static partial int LaunchKernel(IntPtr function, uint gridX, uint gridY, uint gridZ, uint blockX, uint blockY, uint blockZ,
        uint sharedMemoryBytes, IntPtr stream, void** parameters, void** extra);

    /// <summary>cuGetErrorString(CUresult, const char** text): a static string the driver owns, copied, never freed.</summary>
    [LibraryImport(Library, EntryPoint = "cuGetErrorString")]
    internal static partial int GetErrorString(int result, out IntPtr text);

    /// <summary>Throws, naming <paramref name="call"/> and the driver's words, when <paramref name="result"/> is not CUDA_SUCCESS.</summary>
    internal static void Check(int result, string call)
    {
        if (result == 0)
            return;
        string text = GetErrorString(result, out IntPtr words) == 0 && words != IntPtr.Zero ? Marshal.PtrToStringUTF8(words)! : "unknown error";
        throw new InvalidOperationException($"{call} failed: {text} (CUresult {result})");
    }
}
