using HpcAdam.Collectives;

namespace HpcAdam.Training;

/// <summary>
/// Runs a program's body on every rank with the communicator this process was started for (MPI
/// under mpirun or srun, one process otherwise), and makes sure a rank that fails does not leave
/// the others waiting in a collective: it prints its rank and the error, then aborts the whole
/// job. A <see cref="SettingsException"/> or <see cref="TrainingException"/>, which every rank
/// throws alike, is one line from rank 0 and its exit code (2, or the training exception's) instead.
/// </summary>
public static class DataParallelJob
{
    public static int Run(Func<ICommunicator, int> body)
    {
        ICommunicator? communicator = null;
        AppDomain.CurrentDomain.UnhandledException += (_, e) => Fail(communicator, e.ExceptionObject as Exception);
        try
        {
            communicator = CommunicatorFactory.FromEnvironment();
            int exitCode;
            try
            {
                exitCode = body(communicator);
            }
            catch (Exception refused) when (refused is SettingsException or TrainingException)
            {
                if (communicator.Rank == 0)
                    Console.Error.WriteLine($"{ProgramName()}: {refused.Message}");
                exitCode = (refused as TrainingException)?.ExitCode ?? ExitCodes.Usage;
            }
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
        Console.Error.WriteLine($"{ProgramName()}: rank {rank}: {Describe(error)}");
        Console.Error.Flush();
        if (communicator is { Size: > 1 })
        {
            // A launcher forwards each rank's output through processes of its own, and MPI_Abort's
            // teardown can overtake the line just written: once under MPICH's Hydra nothing of the
            // failing rank reached the terminal. A quarter of a second lets the line through first.
            Thread.Sleep(TimeSpan.FromMilliseconds(250));
            communicator.Abort(ExitCodes.Failed);
        }
        return ExitCodes.Failed;
    }

    /// <summary>The name errors begin with: hpcadam, or a user's program.</summary>
    private static string ProgramName() => Path.GetFileNameWithoutExtension(Environment.ProcessPath) is { } name && name != "dotnet"
        ? name
        : AppDomain.CurrentDomain.FriendlyName;

    private static string Describe(Exception? error) => error switch
    {
        null => "unknown failure",
        TypeInitializationException { InnerException: { } inner } => Describe(inner),
        _ => $"{error.Message}{(Environment.GetEnvironmentVariable("HPCADAM_TRACE") == "1" ? "\n" + error : "")}",
    };
}
