using System.Runtime.InteropServices;

namespace HpcAdam.Training;

/// <summary>The C library's calls that .NET does not wrap.</summary>
internal static partial class LibcNativeMethods
{
    public const int LockExclusive = 2, LockNonBlocking = 4;

    /// <summary>errno of a lock another open file holds (EWOULDBLOCK, the same value as EAGAIN on Linux).</summary>
    public const int WouldBlock = 11;

    /// <summary>The address of <paramref name="symbol"/> at <paramref name="version"/> in a loaded library, or zero.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "dlvsym", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr DlVSym(IntPtr handle, string symbol, string version);

    /// <summary>flock(2): an advisory lock on a whole open file, released by the kernel when the process ends, however it ends.</summary>
    [LibraryImport("libc.so.6", EntryPoint = "flock", SetLastError = true)]
    internal static partial int Flock(int fileDescriptor, int operation);

    public const int ResourceUsageSelf = 0;

    /// <summary>
    /// getrusage(2) into <paramref name="usage"/>, struct rusage on 64-bit Linux as 18 longs: two
    /// timevals (user and system time), then ru_maxrss (the peak resident set in KiB, index 4) and the counters.
    /// </summary>
    [LibraryImport("libc.so.6", EntryPoint = "getrusage")]
    internal static unsafe partial int GetResourceUsage(int who, long* usage);

    public const int ResourceUsageLongs = 18, MaxResidentKiB = 4;
}
