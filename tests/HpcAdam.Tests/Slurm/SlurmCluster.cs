namespace HpcAdam.Tests.Slurm;

/// <summary>
/// One of the running Slurms: Slurm's commands (srun, sbatch, squeue, scontrol, scancel) as a user
/// of it types them. On namespace hosts they run on node1, the only place that reaches slurmctld.
/// </summary>
public sealed record SlurmCluster(string SlurmConf, string? HostsDirectory)
{
    private static readonly string s_hostsScript = Path.Combine(ChildProcess.RepoRoot, "scripts", "namespace-hosts.sh");

    /// <summary>
    /// What a command needs to reach this Slurm: its SLURM_CONF. ChildProcess.Run drops every
    /// inherited SLURM_ variable, so a test started inside a real job never submits to the site's
    /// cluster, and then sets these.
    /// </summary>
    public Dictionary<string, string> Environment => HostsDirectory is null
        ? new() { ["SLURM_CONF"] = SlurmConf }
        : new() { ["SLURM_CONF"] = SlurmConf, ["HPCADAM_HOSTS_DIR"] = HostsDirectory };

    /// <summary>Runs a Slurm command with this Slurm's environment plus <paramref name="extra"/>.</summary>
    public ProcessOutcome Run(string command, IEnumerable<string> arguments, TimeSpan deadline, IDictionary<string, string>? extra = null)
    {
        Dictionary<string, string> environment = Environment;
        foreach (var (name, value) in extra ?? new Dictionary<string, string>())
            environment[name] = value;
        return HostsDirectory is null
            ? ChildProcess.Run(command, arguments, environment, deadline)
            : ChildProcess.Run(s_hostsScript, ["on", "1", command, .. arguments], environment, deadline);
    }
}
