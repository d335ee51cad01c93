using System.Net;
using System.Net.Sockets;

namespace HpcAdam.Tests.Slurm;

/// <summary>
/// The real one-node Slurm (slurm/one-node.sh: munged, slurmctld, slurmd on localhost) that the
/// tests of this namespace submit to, started once before them and stopped after them. Each test
/// run gets a Slurm of its own, in its own folder and on ports free at the time, so two runs on
/// one machine (two checkouts, or CI beside a developer) never share or stop each other's. A
/// Slurm that cannot start fails every test here with the script's output; it is never a reason
/// to skip them.
/// </summary>
[SetUpFixture]
public sealed class OneNodeSlurm
{
    private static readonly string s_script = Path.Combine(ChildProcess.RepoRoot, "slurm", "one-node.sh");
    private const string ExportPrefix = "export SLURM_CONF=";

    private string _directory = "";
    private Dictionary<string, string> _scriptEnvironment = [];

    /// <summary>
    /// The environment srun and sbatch need to reach this Slurm: its SLURM_CONF. ChildProcess.Run
    /// drops every inherited SLURM_ variable, so a test started inside a real job never submits
    /// to the site's cluster, and then sets these.
    /// </summary>
    public static IDictionary<string, string> Environment { get; private set; } = new Dictionary<string, string>();

    [OneTimeSetUp]
    public void Start()
    {
        _directory = Directory.CreateTempSubdirectory("hpcadam-slurm-").FullName;
        _scriptEnvironment = new Dictionary<string, string>
        {
            ["HPCADAM_SLURM_DIR"] = _directory,
            ["HPCADAM_SLURM_PORT"] = $"{FreePortPair()}",
        };
        ProcessOutcome outcome = Script("start");
        Assert.That(outcome.ExitCode, Is.Zero, $"slurm/one-node.sh start failed (it stops what it started), so no Slurm test can run\n{outcome}");
        string export = outcome.Stdout.Trim();
        Assert.That(export, Does.StartWith(ExportPrefix), outcome.ToString());
        Environment = new Dictionary<string, string> { ["SLURM_CONF"] = export[ExportPrefix.Length..] };
    }

    [OneTimeTearDown]
    public void Stop()
    {
        ProcessOutcome outcome = Script("stop");
        Assert.That(outcome.ExitCode, Is.Zero, $"slurm/one-node.sh stop failed\n{outcome}");
        Directory.Delete(_directory, recursive: true);
    }

    /// <summary>A port p such that p and p + 1 are free on loopback now (slurmctld's and slurmd's).</summary>
    private static int FreePortPair()
    {
        for (int attempt = 0; attempt < 50; attempt++)
        {
            using var first = new TcpListener(IPAddress.Loopback, 0);
            first.Start();
            int port = ((IPEndPoint)first.LocalEndpoint).Port;
            try
            {
                using var second = new TcpListener(IPAddress.Loopback, port + 1);
                second.Start();
                return port;
            }
            catch (SocketException)
            {
                // The next port is taken: try another pair.
            }
        }
        throw new InvalidOperationException("no two consecutive free ports on 127.0.0.1 in 50 tries");
    }

    // Ten minutes: a first start on a fresh machine installs Slurm and munge from Debian.
    private ProcessOutcome Script(string command) =>
        ChildProcess.Run(s_script, [command], _scriptEnvironment, TimeSpan.FromMinutes(10));
}
