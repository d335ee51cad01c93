using System.Net;
using System.Net.Sockets;

namespace HpcAdam.Tests.Slurm;

/// <summary>
/// The real Slurms (slurm/local-slurm.sh) that the tests of this namespace submit to, started once
/// before them and stopped after them: one node on localhost, and two nodes on namespace hosts
/// (scripts/namespace-hosts.sh), whose job steps talk over TCP. Each test run gets Slurms of its
/// own, in their own folders and on ports free at the time, so two runs on one machine (two
/// checkouts, or CI beside a developer) never share or stop each other's. A Slurm that cannot
/// start fails every test here with the script's output; it is never a reason to skip them.
/// </summary>
[SetUpFixture]
public sealed class LocalSlurm
{
    private static readonly string s_slurmScript = Path.Combine(ChildProcess.RepoRoot, "slurm", "local-slurm.sh");
    private static readonly string s_hostsScript = Path.Combine(ChildProcess.RepoRoot, "scripts", "namespace-hosts.sh");
    // Ten minutes: a first start on a fresh machine installs Slurm and munge from Debian.
    private static readonly TimeSpan s_scriptDeadline = TimeSpan.FromMinutes(10);
    private const string ExportPrefix = "export SLURM_CONF=";

    private readonly List<Dictionary<string, string>> _started = [];
    private string _hostsDirectory = "";

    public static SlurmCluster OneNode { get; private set; } = null!;

    public static SlurmCluster TwoNodes { get; private set; } = null!;

    [OneTimeSetUp]
    public void Start()
    {
        _hostsDirectory = Path.Combine(Directory.CreateTempSubdirectory("hpcadam-slurm-hosts-").FullName, "hosts");
        ProcessOutcome hosts = ChildProcess.Run(s_hostsScript, ["start", "2"], new Dictionary<string, string> { ["HPCADAM_HOSTS_DIR"] = _hostsDirectory }, s_scriptDeadline);
        Assert.That(hosts.ExitCode, Is.Zero, $"scripts/namespace-hosts.sh start failed, so no two-node Slurm test can run\n{hosts}");

        OneNode = new SlurmCluster(StartSlurm(hostsDirectory: null), HostsDirectory: null);
        TwoNodes = new SlurmCluster(StartSlurm(_hostsDirectory), _hostsDirectory);
    }

    [OneTimeTearDown]
    public void Stop()
    {
        // Everything is stopped and deleted before any failure is reported: a Slurm that would not
        // stop must not leave the other one, or the hosts, behind.
        var outcomes = new List<ProcessOutcome>();
        foreach (Dictionary<string, string> slurm in _started)
        {
            outcomes.Add(ChildProcess.Run(s_slurmScript, ["stop"], slurm, s_scriptDeadline));
            Directory.Delete(slurm["HPCADAM_SLURM_DIR"], recursive: true);
        }
        outcomes.Add(ChildProcess.Run(s_hostsScript, ["stop"], new Dictionary<string, string> { ["HPCADAM_HOSTS_DIR"] = _hostsDirectory }, s_scriptDeadline));
        Directory.Delete(Path.GetDirectoryName(_hostsDirectory)!, recursive: true);
        Assert.That(outcomes.Where(outcome => outcome.ExitCode != 0), Is.Empty, "stopping the Slurms or the hosts failed");
    }

    /// <summary>Starts a Slurm (on the namespace hosts, if given) and returns its SLURM_CONF.</summary>
    private string StartSlurm(string? hostsDirectory)
    {
        var slurm = new Dictionary<string, string>
        {
            ["HPCADAM_SLURM_DIR"] = Directory.CreateTempSubdirectory("hpcadam-slurm-").FullName,
            ["HPCADAM_SLURM_PORT"] = $"{FreePortPair()}",
        };
        if (hostsDirectory is not null)
            slurm["HPCADAM_SLURM_HOSTS"] = hostsDirectory;
        _started.Add(slurm);
        ProcessOutcome outcome = ChildProcess.Run(s_slurmScript, ["start"], slurm, s_scriptDeadline);
        Assert.That(outcome.ExitCode, Is.Zero, $"slurm/local-slurm.sh start failed (it stops what it started), so no Slurm test can run\n{outcome}");
        string export = outcome.Stdout.Trim();
        Assert.That(export, Does.StartWith(ExportPrefix), outcome.ToString());
        return export[ExportPrefix.Length..];
    }

    /// <summary>
    /// A port p such that p and p + 1 are free on loopback now (slurmctld's and slurmd's). On the
    /// namespace hosts every port is free; one pair serves both Slurms.
    /// </summary>
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
}
