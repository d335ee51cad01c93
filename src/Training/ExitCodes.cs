namespace HpcAdam.Training;

/// <summary>Process exit codes, the same on every rank.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A run that completed but found something wrong (a failed check, a wrong sum).</summary>
    public const int Failed = 1;

    /// <summary>Bad arguments or configuration: nothing was run.</summary>
    public const int Usage = 2;

    /// <summary>Another job holds the run (or sweep) folder, or it cannot be locked: nothing was run or written.</summary>
    public const int FolderBusy = 3;

    /// <summary>A checkpoint could not be written (a full disk, a quota): the job stopped; the newest whole checkpoint is intact.</summary>
    public const int CheckpointFailed = 4;
}
