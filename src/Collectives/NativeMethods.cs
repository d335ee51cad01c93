using System.Runtime.InteropServices;

namespace HpcAdam.Collectives;

/// <summary>
/// The C shim over the system MPI (native/hpcadam_mpi.h). Only blittable types cross: MPI
/// handles differ between implementations, so the shim exposes ints, counts and pointers.
/// Every function returns MPI_SUCCESS (0) or an MPI error code.
/// </summary>
internal static unsafe partial class NativeMethods
{
    internal const string Library = "hpcadam_mpi";

    /// <summary>Element types of the reductions; BFloat16's sum is the shim's own (native/hpcadam_mpi.h).</summary>
    internal const int Float32 = 0, Float64 = 1, BFloat16 = 2;

    static NativeMethods() => NativeLibraries.RegisterResolver();

    [LibraryImport(Library, EntryPoint = "hpc_library_version")]
    internal static partial int LibraryVersion(byte* buffer, int length, out int version, out int subversion);

    [LibraryImport(Library, EntryPoint = "hpc_init")]
    internal static partial int Init(int requiredThreadLevel, out int providedThreadLevel);

    [LibraryImport(Library, EntryPoint = "hpc_finalize")]
    internal static partial int Finalize();

    [LibraryImport(Library, EntryPoint = "hpc_rank")]
    internal static partial int Rank(out int rank);

    [LibraryImport(Library, EntryPoint = "hpc_size")]
    internal static partial int Size(out int size);

    [LibraryImport(Library, EntryPoint = "hpc_local_rank")]
    internal static partial int LocalRank(out int localRank, out int localSize);

    [LibraryImport(Library, EntryPoint = "hpc_allreduce_sum")]
    internal static partial int AllReduceSum(void* buffer, long count, int type);

    [LibraryImport(Library, EntryPoint = "hpc_iallreduce_sum")]
    internal static partial int IAllReduceSum(void* buffer, long count, int type, out IntPtr request);

    [LibraryImport(Library, EntryPoint = "hpc_wait")]
    internal static partial int Wait(IntPtr request);

    [LibraryImport(Library, EntryPoint = "hpc_test")]
    internal static partial int Test(IntPtr request, out int completed);

    [LibraryImport(Library, EntryPoint = "hpc_broadcast")]
    internal static partial int Broadcast(void* buffer, long bytes, int root);

    [LibraryImport(Library, EntryPoint = "hpc_allgather")]
    internal static partial int AllGather(void* send, void* receive, long bytesPerRank);

    [LibraryImport(Library, EntryPoint = "hpc_barrier")]
    internal static partial int Barrier();

    [LibraryImport(Library, EntryPoint = "hpc_abort")]
    internal static partial int Abort(int errorCode);

    [LibraryImport(Library, EntryPoint = "hpc_wall_time")]
    internal static partial double WallTime();

    [LibraryImport(Library, EntryPoint = "hpc_error_string")]
    internal static partial void ErrorString(int errorCode, byte* buffer, int length);

    [LibraryImport(Library, EntryPoint = "hpc_set_max_chunk_elements")]
    internal static partial void SetMaxChunkElements(long maxElements);

    [LibraryImport(Library, EntryPoint = "hpc_max_chunk_elements")]
    internal static partial long MaxChunkElements();

    internal delegate int StringWriter(byte* buffer, int length);

    /// <summary>Runs a shim call that writes a NUL-terminated string and returns its code and text.</summary>
    internal static int ReadString(StringWriter write, out string text)
    {
        // Large enough for MPI_MAX_LIBRARY_VERSION_STRING in Open MPI and MPICH.
        const int capacity = 8192;
        byte* buffer = stackalloc byte[capacity];
        buffer[0] = 0;
        int code = write(buffer, capacity);
        text = Marshal.PtrToStringUTF8((IntPtr)buffer) ?? "";
        return code;
    }
}
