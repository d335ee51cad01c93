using System.Reflection;
using System.Runtime.InteropServices;

namespace HpcAdam.Optim.Cuda;

/// <summary>
/// Where the fused GPU kernels' two native libraries come from (.NET allows one resolver per
/// assembly, so one place for both): NVRTC from HPCADAM_NVRTC_LIBRARY when set (PyTorch's pip
/// wheels ship it under nvidia/cuda_nvrtc/lib), else libnvrtc.so.13, .12 or libnvrtc.so from the
/// loader's path; the CUDA driver from HPCADAM_CUDA_DRIVER_LIBRARY when set (a container's
/// compat copy), else libcuda.so.1. Nothing is loaded before the first GPU buffer needs it.
/// </summary>
internal static class CudaLibraries
{
    public const string NvrtcVariable = "HPCADAM_NVRTC_LIBRARY", DriverVariable = "HPCADAM_CUDA_DRIVER_LIBRARY";

    /// <summary>Each library: its name in the declarations, the variable that overrides it, the file names tried, what it is.</summary>
    private static readonly (string Library, string Variable, string[] Names, string What)[] s_libraries =
    [
        (NvrtcNativeMethods.Library, NvrtcVariable, ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"], "NVRTC, the CUDA runtime compiler"),
        (CudaDriverNativeMethods.Library, DriverVariable, ["libcuda.so.1"], "the CUDA driver"),
    ];

    private static int s_registered;

    public static void RegisterResolver()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(CudaLibraries).Assembly, Resolve);
    }

    /// <summary>Null when both libraries load; otherwise why not, naming what was tried and the variable that points elsewhere.</summary>
    public static string? WhyNotLoadable()
    {
        foreach ((_, string variable, string[] names, string what) in s_libraries)
            if (!TryLoad(variable, names, out _))
                return NotFound(variable, names, what);
        return null;
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        foreach ((string library, string variable, string[] names, string what) in s_libraries)
            if (name == library)
                return TryLoad(variable, names, out IntPtr handle) ? handle : throw new DllNotFoundException(NotFound(variable, names, what));
        return IntPtr.Zero;
    }

    /// <summary>The variable's file when it is set (and nothing else), else the first of the usual names the loader finds.</summary>
    private static bool TryLoad(string variable, string[] names, out IntPtr handle)
    {
        if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } path)
            return NativeLibrary.TryLoad(path, out handle);
        foreach (string name in names)
            if (NativeLibrary.TryLoad(name, out handle))
                return true;
        handle = IntPtr.Zero;
        return false;
    }

    private static string NotFound(string variable, string[] names, string what) =>
        Environment.GetEnvironmentVariable(variable) is { Length: > 0 } path
            ? $"cannot load {what} from {path} ({variable})"
            : $"cannot load {what} ({string.Join(", ", names)}); set {variable} to its file";
}
