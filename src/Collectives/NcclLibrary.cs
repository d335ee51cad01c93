using System.Runtime.InteropServices;

namespace HpcAdam.Collectives;

/// <summary>
/// Finds NCCL without requiring it: a CPU machine never has libnccl, and only asking for the
/// NCCL backend there is an error. NCCL has a plain C ABI, so a lazy load is all it takes.
/// </summary>
public static class NcclLibrary
{
    public const string FileName = "libnccl.so.2";

    /// <summary>NCCL's version as "major.minor.patch", or null with the reason it is unavailable.</summary>
    public static unsafe string? TryGetVersion(out string reason)
    {
        // The same file the NCCL calls load (HPCADAM_NCCL_LIBRARY, else libnccl.so.2).
        string path = NativeLibraries.NcclPath();
        if (!NativeLibrary.TryLoad(path, out IntPtr handle))
        {
            reason = path == FileName ? $"{FileName} not found on the library path" : $"{path} cannot be loaded ({NativeLibraries.NcclVariable})";
            return null;
        }
        if (!NativeLibrary.TryGetExport(handle, "ncclGetVersion", out IntPtr export))
        {
            reason = $"{path} has no ncclGetVersion";
            return null;
        }
        int code;
        int version;
        code = ((delegate* unmanaged<int*, int>)export)(&version);
        if (code != 0)
        {
            reason = $"ncclGetVersion returned {code}";
            return null;
        }
        reason = "";
        return VersionText(version);
    }

    /// <summary>ncclGetVersion's code as "major.minor.patch": since NCCL 2.9 the code is major·10000 + minor·100 + patch.</summary>
    public static string VersionText(int code) => $"{code / 10000}.{code / 100 % 100}.{code % 100}";
}
