namespace HpcAdam.Tests.Slurm;

/// <summary>
/// The real one-node Slurm (slurm/one-node.sh: munged, slurmctld, slurmd on localhost) that the
/// tests of this namespace submit to: started once before them, installing Slurm where it is
/// missing, and stopped after them unless it was already running. A Slurm that cannot start fails
/// every test here with the script's output; it is never a reason to skip them.
/// </summary>
[SetUpFixture]
public sealed class OneNodeSlurm
{
    private static readonly string s_script = Path.Combine(ChildProcess.RepoRoot, "slurm", "one-node.sh");
    private const string ExportPrefix = "export SLURM_CONF=";

    private bool _startedHere;

    /// <summary>
    /// The environment srun and sbatch need to reach this Slurm: its SLURM_CONF. ChildProcess.Run
    /// drops every inherited SLURM_ variable, so a test started inside a real job never submits
    /// to the site's cluster, and then sets these.
    /// </summary>
    public static IDictionary<string, string> Environment { get; private set; } = new Dictionary<string, string>();

    [OneTimeSetUp]
    public void Start()
    {
        _startedHere = Script("status").ExitCode != 0;
        ProcessOutcome outcome = Script("start");
        Assert.That(outcome.ExitCode, Is.Zero, $"slurm/one-node.sh start failed, so no Slurm test can run\n{outcome}");
        string export = outcome.Stdout.Trim();
        Assert.That(export, Does.StartWith(ExportPrefix), outcome.ToString());
        Environment = new Dictionary<string, string> { ["SLURM_CONF"] = export[ExportPrefix.Length..] };
    }

    [OneTimeTearDown]
    public void Stop()
    {
        if (!_startedHere)
            return;
        ProcessOutcome outcome = Script("stop");
        Assert.That(outcome.ExitCode, Is.Zero, $"slurm/one-node.sh stop failed\n{outcome}");
    }

    // Ten minutes: a first start on a fresh machine installs Slurm and munge from Debian.
    private static ProcessOutcome Script(string command) =>
        ChildProcess.Run(s_script, [command], environment: null, TimeSpan.FromMinutes(10));
}
