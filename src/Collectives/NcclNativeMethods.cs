using System.Runtime.InteropServices;

namespace HpcAdam.Collectives;

/// <summary>
/// ncclUniqueId (nccl.h): 128 opaque bytes made by one rank and given to every rank's
/// ncclCommInitRank, which takes it BY VALUE. Blittable, so it crosses P/Invoke as the C struct does.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = Bytes)]
public unsafe struct NcclUniqueId
{
    public const int Bytes = 128;

    private fixed byte _internal[Bytes];

    public Span<byte> AsSpan() => MemoryMarshal.CreateSpan(ref _internal[0], Bytes);
}

/// <summary>
/// NCCL's C ABI (nccl.h), bound directly: no shim is needed, because NCCL, unlike MPI, fixes its
/// types. Loaded lazily, by name (libnccl.so.2) or from HPCADAM_NCCL_LIBRARY, so a CPU machine
/// never touches it. Every function returns an ncclResult_t: 0 is ncclSuccess.
/// </summary>
internal static unsafe partial class NcclNativeMethods
{
    internal const string Library = "nccl";

    /// <summary>ncclDataType_t values.</summary>
    internal const int Float32 = 7, Float64 = 8, BFloat16 = 9;

    /// <summary>ncclRedOp_t values.</summary>
    internal const int Sum = 0, Average = 4;

    /// <summary>ncclResult_t: ncclInProgress, from a non-blocking communicator still at work.</summary>
    internal const int InProgress = 7;

    static NcclNativeMethods() => NativeLibraries.RegisterResolver();

    [LibraryImport(Library, EntryPoint = "ncclGetVersion")]
    internal static partial int GetVersion(out int version);

    [LibraryImport(Library, EntryPoint = "ncclGetUniqueId")]
    internal static partial int GetUniqueId(out NcclUniqueId id);

    /// <summary>ncclCommInitRank(ncclComm_t* comm, int nranks, ncclUniqueId commId, int rank): the id by value.</summary>
    [LibraryImport(Library, EntryPoint = "ncclCommInitRank")]
    internal static partial int CommInitRank(out IntPtr communicator, int ranks, NcclUniqueId id, int rank);

    /// <summary>ncclGroupStart(): the collectives called until ncclGroupEnd() are launched together.</summary>
    [LibraryImport(Library, EntryPoint = "ncclGroupStart")]
    internal static partial int GroupStart();

    [LibraryImport(Library, EntryPoint = "ncclGroupEnd")]
    internal static partial int GroupEnd();

    /// <summary>ncclAllReduce(sendbuff, recvbuff, size_t count, datatype, op, comm, cudaStream_t stream).</summary>
    [LibraryImport(Library, EntryPoint = "ncclAllReduce")]
    internal static partial int AllReduce(void* send, void* receive, nuint count, int dataType, int operation, IntPtr communicator, IntPtr stream);

    [LibraryImport(Library, EntryPoint = "ncclCommGetAsyncError")]
    internal static partial int CommGetAsyncError(IntPtr communicator, out int asyncError);

    [LibraryImport(Library, EntryPoint = "ncclCommAbort")]
    internal static partial int CommAbort(IntPtr communicator);

    [LibraryImport(Library, EntryPoint = "ncclCommDestroy")]
    internal static partial int CommDestroy(IntPtr communicator);

    /// <summary>A static string NCCL owns: marshalled as a pointer and copied, never freed.</summary>
    [LibraryImport(Library, EntryPoint = "ncclGetErrorString")]
    internal static partial IntPtr GetErrorString(int result);

    /// <summary>NCCL's words for <paramref name="result"/>.</summary>
    internal static string ErrorText(int result) => Marshal.PtrToStringUTF8(GetErrorString(result)) ?? $"ncclResult_t {result}";
}
