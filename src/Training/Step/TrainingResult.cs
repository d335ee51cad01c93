namespace HpcAdam.Training;

/// <summary>
/// How a <see cref="DataParallelTrainer.Train"/> call ended, the same on every rank: the run's step
/// and sample counters (a resumed run's include the steps before the resume), the last evaluation's
/// metrics, the throughput of this call's own steps, and whether it stopped early on SIGTERM or
/// SIGUSR1 (then its last checkpoint is where <c>resume: "latest"</c> goes on from).
/// </summary>
public sealed record TrainingResult(
    long Steps, long Samples, int FinalKappa, long Skipped, IReadOnlyDictionary<string, double> Metrics,
    double SamplesPerSecond, bool Stopped, string RunDirectory)
{
    /// <summary>This call's steady state, its warm-up left out (docs/training.md, "Throughput"); null for a call of one step.</summary>
    public SteadyState? Steady { get; init; }

    /// <summary>The bytes of the step's all-reduce, as the communicator counts them: its payload, the same every step.</summary>
    public long AllReduceBytesPerStep { get; init; }
}

/// <summary>
/// A run that was refused or could not go on, on every rank alike: the run folder is another job's,
/// the ranks were started with different settings, a checkpoint cannot be resumed or saved.
/// <see cref="ExitCode"/> is the process exit code for it (<see cref="ExitCodes"/>); the message is
/// one line saying what is wrong and what to do.
/// </summary>
public sealed class TrainingException(string message, int exitCode = ExitCodes.Usage) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>
/// A run stopped by Train:MaxSkips. Every rank throws it after the same step, because the
/// non-finite flag comes from the step's all-reduce, so no rank is left inside a collective.
/// </summary>
public sealed class DivergedException(string message) : InvalidOperationException(message);
