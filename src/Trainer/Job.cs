using HpcAdam.Collectives;

namespace HpcAdam.Trainer;

/// <summary>
/// Runs a command on every rank with the communicator this process was started for. A rank
/// that fails must not leave the others waiting in a collective: it prints its rank and the
/// error, then aborts the whole job.
/// </summary>
internal static class Job
{
    public static int Run(Func<ICommunicator, int> body)
    {
        ICommunicator? communicator = null;
        AppDomain.CurrentDomain.UnhandledException += (_, e) => Fail(communicator, e.ExceptionObject as Exception);
        try
        {
            communicator = CommunicatorFactory.FromEnvironment();
            int exitCode = body(communicator);
            communicator.Dispose();
            return exitCode;
        }
        catch (Exception e)
        {
            return Fail(communicator, e);
        }
    }

    private static int Fail(ICommunicator? communicator, Exception? error)
    {
        int rank = communicator?.Rank ?? LaunchEnvironment.Detect().Rank ?? 0;
        Console.Error.WriteLine($"hpcadam: rank {rank}: {Describe(error)}");
        Console.Error.Flush();
        if (communicator is { Size: > 1 })
            communicator.Abort(ExitCodes.Failed);
        return ExitCodes.Failed;
    }

    private static string Describe(Exception? error) => error switch
    {
        null => "unknown failure",
        TypeInitializationException { InnerException: { } inner } => Describe(inner),
        _ => $"{error.Message}{(Environment.GetEnvironmentVariable("HPCADAM_TRACE") == "1" ? "\n" + error : "")}",
    };
}
