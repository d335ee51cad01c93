using System.Globalization;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// How `hpcadam bench scaling` starts P ranks of this hpcadam: the launcher's words, then <c>-n P</c>
/// (which mpirun, mpiexec and srun all take), then the hpcadam command line. By default the launcher a
/// user would type where the bench runs: <c>srun --mpi=pmix</c> inside a Slurm allocation (SLURM_JOB_ID
/// set), else Open MPI's <c>mpirun</c> on this node, with <c>--oversubscribe</c> beyond its cores.
/// <c>--launcher "WORDS"</c> replaces it, e.g. <c>mpirun --hostfile hosts -x OMP_NUM_THREADS</c> or
/// <c>scripts/namespace-hosts.sh mpirun</c>; its words are split at spaces, with no quoting.
/// </summary>
internal sealed class RankLauncher
{
    private readonly string[] _words;
    private readonly bool _mpirunHere;

    private RankLauncher(string[] words, bool mpirunHere) => (_words, _mpirunHere) = (words, mpirunHere);

    public static RankLauncher Create(string? words)
    {
        if (words is not null)
            return new RankLauncher(words.Split(' ', StringSplitOptions.RemoveEmptyEntries), mpirunHere: false);
        if (Environment.GetEnvironmentVariable("SLURM_JOB_ID") is not null)
            return new RankLauncher(["srun", "--mpi=pmix", "--kill-on-bad-exit=1"], mpirunHere: false);
        // -x: ranks that mpirun starts on other hosts get the thread count too.
        return new RankLauncher(["mpirun", "-x", ThreadsVariable], mpirunHere: true);
    }

    public const string ThreadsVariable = "OMP_NUM_THREADS";

    /// <summary>libtorch threads a rank gets: OMP_NUM_THREADS where set, else 1, so P ranks use P times the cores of one.</summary>
    public static int ThreadsPerRank =>
        int.TryParse(Environment.GetEnvironmentVariable(ThreadsVariable), NumberStyles.None, CultureInfo.InvariantCulture, out int threads) && threads > 0
            ? threads
            : 1;

    /// <summary>The node every rank shares when the default mpirun starts them here; null where the launcher places them.</summary>
    public SharedNode? Node => _mpirunHere ? new SharedNode(Environment.ProcessorCount, ThreadsPerRank) : null;

    /// <summary>The command line of P ranks, with "P" for the count.</summary>
    public string Describe() => string.Join(' ', [.. _words, "-n", "P", .. Self(), "..."]) +
                                (_mpirunHere ? $" (--oversubscribe beyond this node's {Environment.ProcessorCount} cores)" : "");

    /// <summary>Runs hpcadam with <paramref name="arguments"/> as <paramref name="ranks"/> ranks: the exit code and stderr.</summary>
    public (int ExitCode, List<string> Stderr) Run(int ranks, IEnumerable<string> arguments)
    {
        var command = new List<string>(_words[1..]);
        if (_mpirunHere && ranks > Environment.ProcessorCount)
            command.Add("--oversubscribe");
        command.AddRange(["-n", ranks.ToString(CultureInfo.InvariantCulture), .. Self(), .. arguments]);
        var environment = new Dictionary<string, string> { [ThreadsVariable] = ThreadsPerRank.ToString(CultureInfo.InvariantCulture) };
        if (_mpirunHere)
        {
            // As scripts/mpirun.sh: Open MPI refuses to run as root without being told, and a container often is root.
            environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
            environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        }
        (int exitCode, _, List<string> stderr) = ChildCommand.Run(_words[0], command, environment: environment);
        return (exitCode, stderr);
    }

    /// <summary>This hpcadam: its executable, or `dotnet hpcadam.dll` where it runs that way.</summary>
    private static string[] Self()
    {
        string process = Environment.ProcessPath ?? throw new InvalidOperationException("the path of this hpcadam is unknown");
        return Path.GetFileNameWithoutExtension(process) == "dotnet" ? [process, typeof(RankLauncher).Assembly.Location] : [process];
    }
}
