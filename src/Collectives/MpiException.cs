namespace HpcAdam.Collectives;

/// <summary>An MPI call that returned an error code; the message names the call, the rank and MPI's own text.</summary>
public sealed class MpiException : Exception
{
    public MpiException(string call, int rank, int errorCode, string mpiMessage)
        : base($"{call} failed on rank {rank}: {mpiMessage} (MPI error {errorCode})")
    {
        Call = call;
        Rank = rank;
        ErrorCode = errorCode;
    }

    public string Call { get; }
    public int Rank { get; }
    public int ErrorCode { get; }
}
