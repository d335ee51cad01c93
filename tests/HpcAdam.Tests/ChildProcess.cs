using System.Diagnostics;
using System.Reflection;

namespace HpcAdam.Tests;

/// <summary>What a finished child process left behind.</summary>
public sealed record ProcessOutcome(int ExitCode, string Stdout, string Stderr, TimeSpan Elapsed)
{
    public override string ToString() => $"exit {ExitCode} after {Elapsed.TotalSeconds:F1} s\n--- stdout\n{Stdout}\n--- stderr\n{Stderr}";

    /// <summary>A refusal as every command gives one: exit 2 and one line on stderr that names <paramref name="mention"/>.</summary>
    public void AssertOneLineUsageError(string mention)
    {
        Assert.That(ExitCode, Is.EqualTo(2), ToString());
        Assert.That(Stderr.TrimEnd().Split('\n'), Has.Length.EqualTo(1), ToString());
        Assert.That(Stderr, Does.Contain(mention));
    }
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

    // What a child must not inherit from whatever started the test run, so that it sees only
    // what its test gives it in `environment` (set after this): the variables by which a launcher
    // announces ranks; SLURM_CONF, so no test talks to a site's Slurm by accident; every HPCADAM
    // variable (settings, faults, chunk sizes); and the thread counts the product chooses itself.
    private static readonly string[] s_scrubbedPrefixes = ["OMPI_", "PMIX_", "PMI_", "SLURM_", "HPCADAM"];
    private static readonly string[] s_scrubbedNames = ["OMP_NUM_THREADS", "MKL_NUM_THREADS"];

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
        var clock = Stopwatch.StartNew();
        using var started = Start(file, arguments, environment);
        return started.Finish(deadline, clock);
    }

    /// <summary>Starts a child without waiting for it, for tests that signal it while it runs.</summary>
    public static StartedProcess Start(string file, IEnumerable<string> arguments, IDictionary<string, string>? environment)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
            start.ArgumentList.Add(argument);
        foreach (string name in start.Environment.Keys.Where(k => s_scrubbedPrefixes.Any(k.StartsWith) || s_scrubbedNames.Contains(k)).ToList())
            start.Environment.Remove(name);
        // Open MPI refuses to start as root without this; CI runs as root.
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT"] = "1";
        start.Environment["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1";
        // One libtorch thread per process, as each of the 2 ranks of a test job has on this 2-core
        // machine anyway. A lone process would otherwise take every core, and beside another test run or
        // a busy loop its OpenMP threads wait at every barrier for a partner the kernel has descheduled:
        // measured, the MNIST sweep took over 40 minutes beside two busy loops at 2 threads, 4 at 1.
        start.Environment["OMP_NUM_THREADS"] = "1";
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            start.Environment[name] = value;
        return new StartedProcess(Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}"), $"{file} {string.Join(' ', start.ArgumentList)}");
    }

    private static string FindRepoRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
            if (File.Exists(Path.Combine(directory.FullName, "HpcAdam.sln")))
                return directory.FullName;
        throw new InvalidOperationException("HpcAdam.sln not found above the test assembly");
    }
}

/// <summary>A running child whose output is collected as it comes.</summary>
public sealed class StartedProcess : IDisposable
{
    private readonly Process _process;
    private readonly string _commandLine;
    private readonly Task<string> _stdout, _stderr;

    public StartedProcess(Process process, string commandLine)
    {
        (_process, _commandLine) = (process, commandLine);
        _stdout = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>SIGKILL to the child and everything it started, as a node failure or an OOM killer would end a job.</summary>
    public void KillTree()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    /// <summary>Waits for the exit; a child that outlives <paramref name="deadline"/> is killed with its tree and the test fails.</summary>
    public ProcessOutcome Finish(TimeSpan deadline, Stopwatch? clock = null)
    {
        clock ??= Stopwatch.StartNew();
        if (!_process.WaitForExit(deadline))
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
            Assert.Fail($"{_commandLine} still ran after {deadline.TotalSeconds} s and was killed\n" +
                        $"--- stdout\n{_stdout.Result}\n--- stderr\n{_stderr.Result}");
        }
        _process.WaitForExit();
        return new ProcessOutcome(_process.ExitCode, _stdout.Result, _stderr.Result, clock.Elapsed);
    }

    public void Dispose()
    {
        if (!_process.HasExited)
            _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
