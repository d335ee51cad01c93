namespace HpcAdam.Collectives;

/// <summary>MPI thread support levels, in MPI's order (the shim maps them onto MPI_THREAD_*).</summary>
#pragma warning disable CA1720 // MPI's own names for the levels
public enum ThreadLevel
{
    Single = 0,
    Funneled = 1,
    Serialized = 2,
    Multiple = 3,
}
