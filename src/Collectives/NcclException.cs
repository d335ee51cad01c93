namespace HpcAdam.Collectives;

/// <summary>An NCCL call that failed; the message names the call, the rank and NCCL's own text.</summary>
public sealed class NcclException(string call, int rank, int result, string ncclMessage)
    : Exception($"{call} failed on rank {rank}: {ncclMessage} (ncclResult_t {result})")
{
    public string Call { get; } = call;
    public int Rank { get; } = rank;
    public int Result { get; } = result;
}
