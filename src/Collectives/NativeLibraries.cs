using System.Reflection;
using System.Runtime.InteropServices;

namespace HpcAdam.Collectives;

/// <summary>
/// Where this assembly's native libraries are loaded from (.NET allows one resolver per assembly,
/// so one place for all of them): the MPI shim from beside the assembly, where the build puts it,
/// rather than from a loader path that on a cluster may hold another build (which of the shims
/// built there, <see cref="MpiShim"/> decides); NCCL and the CUDA
/// runtime from HPCADAM_NCCL_LIBRARY and HPCADAM_CUDART_LIBRARY when set (a pip wheel's copy, say),
/// else by their usual names. Nothing is loaded before the first call that needs it.
/// </summary>
internal static class NativeLibraries
{
    public const string NcclVariable = "HPCADAM_NCCL_LIBRARY", CudaRuntimeVariable = "HPCADAM_CUDART_LIBRARY";

    private static readonly string[] s_cudaRuntimeNames = ["libcudart.so.13", "libcudart.so.12", "libcudart.so"];
    private static int s_registered;

    public static void RegisterResolver()
    {
        if (Interlocked.Exchange(ref s_registered, 1) == 0)
            NativeLibrary.SetDllImportResolver(typeof(NativeLibraries).Assembly, Resolve);
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath) => name switch
    {
        NativeMethods.Library => Load(Path.Combine(AppContext.BaseDirectory, MpiShim.Chosen.FileName),
            "the MPI shim; build with 'dotnet build' (needs mpicc) and run where the same MPI library is available (module load the MPI you built with)"),
        NcclNativeMethods.Library => Load(NcclPath(), $"NCCL; install it (or the nvidia-nccl wheel) or set {NcclVariable} to its libnccl.so.2"),
        CudaRuntimeNativeMethods.Library => LoadCudaRuntime(),
        _ => IntPtr.Zero,
    };

    /// <summary>The NCCL library to load: HPCADAM_NCCL_LIBRARY's file, else libnccl.so.2 from the loader's path.</summary>
    public static string NcclPath() => Environment.GetEnvironmentVariable(NcclVariable) is { Length: > 0 } path ? path : NcclLibrary.FileName;

    /// <summary>HPCADAM_CUDART_LIBRARY's file, else the first of the usual names the loader finds.</summary>
    private static IntPtr LoadCudaRuntime()
    {
        if (Environment.GetEnvironmentVariable(CudaRuntimeVariable) is { Length: > 0 } path)
            return Load(path, "the CUDA runtime");
        foreach (string name in s_cudaRuntimeNames)
            if (NativeLibrary.TryLoad(name, out IntPtr handle))
                return handle;
        throw new DllNotFoundException($"cannot load the CUDA runtime ({string.Join(", ", s_cudaRuntimeNames)}): set {CudaRuntimeVariable} to your libcudart.so");
    }

    private static IntPtr Load(string path, string what)
    {
        try
        {
            return NativeLibrary.Load(path);
        }
        catch (DllNotFoundException e)
        {
            throw new DllNotFoundException($"cannot load {path}, {what}: {e.Message}", e);
        }
    }
}
