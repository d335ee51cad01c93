namespace HpcAdam.Tests.Slurm;

/// <summary>
/// Jobs on the two-node Slurm (slurmd on node1 and node2, namespace hosts on one bridge): srun
/// spreads the ranks over both nodes, Open MPI wires them through Slurm's PMIx, and ranks on
/// different nodes talk over TCP, as on a cluster.
/// </summary>
[TestFixture]
public sealed class TwoNodeSlurmTests() : TemporaryDirectoryTest("hpcadam-two-nodes-")
{
    [Test]
    public void SrunPutsTwoRanksOnEachNodeWithLocalRanksPerNode()
    {
        ProcessOutcome outcome = SlurmJobTests.Bounded("srun", ["-N", "2", "-n", "4", "--mpi=pmix", ChildProcess.Hpcadam, "selftest", "--write", TestDirectory],
            cluster: LocalSlurm.TwoNodes);
        MultiHost.MultiHostTests.AssertSelftestPassedWithTwoRanksOnEachHost(outcome, TestDirectory);
    }

    [Test]
    public void TheSbatchScriptTrainsOnTwoNodesIntoOneRunFolder()
    {
        string runs = Path.Combine(TestDirectory, "runs"), run = Path.Combine(runs, "mnist"), output = Path.Combine(TestDirectory, "job.out");
        string config = Path.Combine(TestDirectory, "config.json");
        File.WriteAllText(config, $$"""
            { "Data": { "Dir": "{{Path.Combine(ChildProcess.RepoRoot, "data")}}" }, "Batch": { "MicroBatchSize": 32, "Kappa": 4 }, "Train": { "Steps": 30 } }
            """);
        var environment = new Dictionary<string, string> { ["CONFIG"] = config, ["RUN_DIR"] = run };

        // Five minutes: the script asks for SIGUSR1 two minutes before the limit, which must not come during the run.
        ProcessOutcome outcome = SlurmJobTests.Bounded("sbatch",
            ["--wait", "--nodes=2", $"--chdir={ChildProcess.RepoRoot}", $"--output={output}", Path.Combine(ChildProcess.RepoRoot, "slurm", "hpcadam.sbatch")],
            environment, LocalSlurm.TwoNodes, minutes: 5);

        string log = File.Exists(output) ? File.ReadAllText(output) : "(no output file)";
        Assert.That(outcome.ExitCode, Is.Zero, $"{outcome}\n--- {output}\n{log}");
        Assert.That(log, Does.Contain("on node[1-2]").And.Contain("Slurm srun (PMIx), 4 processes").And.Contain("test accuracy:"), log);
        Assert.That(Directory.GetFileSystemEntries(runs), Is.EqualTo(new[] { run }), "one run folder, written by rank 0 only");
        Assert.That(SlurmJobTests.WorldSize(run), Is.EqualTo(4), log);
        Assert.That(new Training.RunFiles(run).Checkpoints(), Is.EqualTo(new[] { "00000030" }), log);
    }
}
