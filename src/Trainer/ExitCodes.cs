namespace HpcAdam.Trainer;

/// <summary>Process exit codes, the same on every rank.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A run that completed but found something wrong (a failed check, a wrong sum).</summary>
    public const int Failed = 1;

    /// <summary>Bad arguments or configuration: nothing was run.</summary>
    public const int Usage = 2;
}
