using System.Runtime.InteropServices;

namespace HpcAdam.Optim.Cuda;

/// <summary>
/// NVRTC, the CUDA runtime compiler (nvrtc.h), which turns the fused kernels' source into the
/// device's code at run time: loaded lazily (or from HPCADAM_NVRTC_LIBRARY). An nvrtcProgram is
/// a pointer; every function but nvrtcGetErrorString returns an nvrtcResult, 0 is NVRTC_SUCCESS.
/// Checked against nvrtc.h's signatures by a probe library here; ran on an H200.
/// </summary>
internal static unsafe partial class NvrtcNativeMethods
{
    internal const string Library = "nvrtc";

    /// <summary>nvrtcResult: NVRTC_ERROR_COMPILATION, a program that did not compile (its log says why).</summary>
    internal const int CompilationError = 6;

    static NvrtcNativeMethods() => CudaLibraries.RegisterResolver();

    [LibraryImport(Library, EntryPoint = "nvrtcVersion")]
    internal static partial int Version(out int major, out int minor);

    [LibraryImport(Library, EntryPoint = "nvrtcGetNumSupportedArchs")]
    internal static partial int GetNumSupportedArchs(out int count);

    /// <summary>nvrtcGetSupportedArchs(int*): the compute capabilities as 10·major + minor, ascending.</summary>
    [LibraryImport(Library, EntryPoint = "nvrtcGetSupportedArchs")]
    internal static partial int GetSupportedArchs(int* architectures);

    /// <summary>nvrtcCreateProgram(nvrtcProgram*, const char* src, const char* name, int numHeaders, const char* const* headers, const char* const* includeNames).</summary>
    [LibraryImport(Library, EntryPoint = "nvrtcCreateProgram", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int CreateProgram(out IntPtr program, string source, string name, int headerCount, byte** headers, byte** includeNames);

    /// <summary>nvrtcCompileProgram(nvrtcProgram, int numOptions, const char* const* options).</summary>
    [LibraryImport(Library, EntryPoint = "nvrtcCompileProgram")]
    internal static partial int CompileProgram(IntPtr program, int optionCount, byte** options);

    [LibraryImport(Library, EntryPoint = "nvrtcDestroyProgram")]
    internal static partial int DestroyProgram(ref IntPtr program);

    [LibraryImport(Library, EntryPoint = "nvrtcGetProgramLogSize")]
    internal static partial int GetProgramLogSize(IntPtr program, out nuint size);

    [LibraryImport(Library, EntryPoint = "nvrtcGetProgramLog")]
    internal static partial int GetProgramLog(IntPtr program, byte* log);

    /// <summary>The size of the CUBIN, the device's own machine code (compiled for an sm_XY architecture).</summary>
    [LibraryImport(Library, EntryPoint = "nvrtcGetCUBINSize")]
    internal static partial int GetCubinSize(IntPtr program, out nuint size);

    [LibraryImport(Library, EntryPoint = "nvrtcGetCUBIN")]
    internal static partial int GetCubin(IntPtr program, byte* cubin);

    /// <summary>The size of the PTX, NUL included (compiled for a compute_XY architecture; the driver finishes it).</summary>
    [LibraryImport(Library, EntryPoint = "nvrtcGetPTXSize")]
    internal static partial int GetPtxSize(IntPtr program, out nuint size);

    [LibraryImport(Library, EntryPoint = "nvrtcGetPTX")]
    internal static partial int GetPtx(IntPtr program, byte* ptx);

    /// <summary>A static string NVRTC owns: marshalled as a pointer and copied, never freed.</summary>
    [LibraryImport(Library, EntryPoint = "nvrtcGetErrorString")]
    internal static partial IntPtr GetErrorString(int result);

    /// <summary>Throws, naming <paramref name="call"/> and NVRTC's words, when <paramref name="result"/> is not NVRTC_SUCCESS.</summary>
    internal static void Check(int result, string call)
    {
        if (result != 0)
            throw new InvalidOperationException($"{call} failed: {Marshal.PtrToStringUTF8(GetErrorString(result))} (nvrtcResult {result})");
    }
}
