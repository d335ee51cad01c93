using HpcAdam.Collectives;

namespace HpcAdam.Trainer;

/// <summary>Bad arguments, or a job that cannot go on: one line on stderr (from the first rank only: every rank knows the same), exit 2 by default.</summary>
internal static class UsageError
{
    public static int Report(string message, int exitCode = ExitCodes.Usage)
    {
        if ((LaunchEnvironment.Detect().Rank ?? 0) == 0)
            Console.Error.WriteLine(message);
        return exitCode;
    }
}
