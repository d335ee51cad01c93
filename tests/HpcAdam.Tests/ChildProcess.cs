using System.Diagnostics;
using System.Reflection;

namespace HpcAdam.Tests;

/// <summary>What a finished child process left behind.</summary>
public sealed record ProcessOutcome(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";
}

/// <summary>
/// Starts the built hpcadam command as real processes: alone, or as ranks under a real
/// mpirun. Nothing is mocked; a child that outlives its deadline is killed with its tree.
/// </summary>
public static class ChildProcess
{
    public static readonly string HpcadamDirectory = Metadata("HpcadamDirectory");
    public static readonly string Hpcadam = Path.Combine(HpcadamDirectory, "hpcadam");
    public static readonly string RepoRoot = FindRepoRoot();

    private static readonly TimeSpan s_defaultDeadline = TimeSpan.FromMinutes(3);

    // Variables by which a launcher announces ranks: a test that runs one process must not
    // inherit them from whatever started the test run.
    private static readonly string[] s_launcherPrefixes = ["OMPI_", "PMIX_", "PMI_", "SLURM_"];

    public static string Metadata(string key) =>
        typeof(ChildProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value
        ?? throw new InvalidOperationException($"assembly metadata {key} is empty");

    /// <summary>hpcadam as one process, outside any launcher.</summary>
    public static ProcessOutcome RunAlone(IEnumerable<string> arguments, IDictionary<string, string>? environment = null) =>
        Run(Hpcadam, arguments, environment, s_defaultDeadline);

    /// <summary><paramref name="program"/> as <paramref name="ranks"/> ranks under mpirun.</summary>
    public static ProcessOutcome MpiRun(int ranks, string program, IEnumerable<string> arguments,
        IDictionary<string, string>? environment = null, TimeSpan? deadline = null)
    {
        var mpirunArguments = new List<string> { "-np", ranks.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        if (ranks > Environment.ProcessorCount)
            mpirunArguments.Add("--oversubscribe");
        mpirunArguments.Add(program);
        mpirunArguments.AddRange(arguments);
        return Run("mpirun", mpirunArguments, environment, deadline ?? s_defaultDeadline);
    }

    public static ProcessOutcome Run(string file, IEnumerable<string> arguments, IDictionary<string, string>? environment, TimeSpan deadline)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (string name in start.Environment.Keys.Where(k => s_launcherPrefixes.Any(k.StartsWith)).ToList())
            start.Environment.Remove(name);
        // Open MPI refuses to start as root without this; CI runs as root.
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(deadline))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            Assert.Fail($"{file} {string.Join(' ', arguments)} still ran after {deadline.TotalSeconds} s and was killed\n" +
                        $"--- stdout\n{stdout.Result}\n--- stderr\n{stderr.Result}");
        }
        process.WaitForExit();
        return new ProcessOutcome(process.ExitCode, stdout.Result, stderr.Result, clock.Elapsed);
    }

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "HpcAdam.sln")))
                return directory.FullName;
        throw new InvalidOperationException("HpcAdam.sln not found above the test assembly");
    }
}
