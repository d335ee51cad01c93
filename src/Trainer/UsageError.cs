using HpcAdam.Collectives;

namespace HpcAdam.Trainer;

/// <summary>Bad arguments: one line on stderr (from the first rank only: every rank parsed the same), exit 2.</summary>
internal static class UsageError
{
    public static int Report(string message)
    {
        if ((LaunchEnvironment.Detect().Rank ?? 0) == 0)
            Console.Error.WriteLine(message);
        return ExitCodes.Usage;
    }
}
