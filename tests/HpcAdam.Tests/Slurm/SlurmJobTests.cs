using System.Text.Json;

namespace HpcAdam.Tests.Slurm;

/// <summary>hpcadam started the two ways a Slurm user starts it: srun --mpi=pmix, and mpirun inside an sbatch job.</summary>
[TestFixture]
public sealed class SlurmJobTests() : TemporaryDirectoryTest("hpcadam-slurm-")
{
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(2);

    [Test]
    public void SrunWithPmixStartsRanksThatPassTheSelftestAndThatDoctorNamesSrun()
    {
        ProcessOutcome selftest = Srun(2, "selftest", "--write", TestDirectory);
        Assert.That(selftest.ExitCode, Is.Zero, selftest.ToString());
        Assert.That(selftest.Stdout, Does.Match(@"selftest passed: \d+ checks on 2 rank\(s\)"), selftest.ToString());
        SelfTestResults.RequireExact(TestDirectory, ranks: 2);

        ProcessOutcome doctor = Srun(2, "doctor");
        Assert.That(doctor.ExitCode, Is.Zero, doctor.ToString());
        Assert.That(doctor.Stdout, Does.Contain("Slurm srun (PMIx), 2 processes"), doctor.ToString());
        Assert.That(doctor.Stdout, Does.Contain("verdict: ready to train on 2 rank(s)"), doctor.ToString());
    }

    [Test]
    public void SrunTrainsOnTwoRanks()
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = Srun(2, "train", "--Data:Name=synthetic", "--Train:Steps=5", $"--Run:Dir={run}");
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(WorldSize(run), Is.EqualTo(2), outcome.ToString());
    }

    [Test]
    public void SrunWithoutAPmiPluginIsRefusedByDoctorAndByTrainNamingMpiPmix()
    {
        // srun --mpi=none connects no task to MPI. Open MPI cannot start without PMIx: hpcadam says so before its MPI_Init
        // would abort. MPICH starts each task as a world of one, which would train two unrelated models: hpcadam counts.
        const string NotTalking = "the launcher and the MPI library are not talking (under Slurm use 'srun --mpi=pmix'; 'srun --mpi=list' shows the plugins)";
        const string OpenMpiRefusal = $"Slurm srun (no PMI) started 2 processes but Open MPI joins srun's tasks only through PMIx: {NotTalking}";

        ProcessOutcome doctor = Bounded("srun", ["--mpi=none", "-n", "2", ChildProcess.Hpcadam, "doctor"]);
        Assert.That(doctor.ExitCode, Is.EqualTo(ExitCodes.Failed), doctor.ToString());
        Assert.That(doctor.Stderr, Does.Contain($"problem on rank 0: {OpenMpiRefusal}").And.Contain($"problem on rank 1: {OpenMpiRefusal}"), doctor.ToString());
        Assert.That(doctor.Stdout, Does.Contain("verdict: cannot train"), doctor.ToString());

        AssertTrainRefused(OpenMpiRefusal, mpi: "openmpi");
        AssertTrainRefused($"Slurm srun (no PMI) started 2 processes but MPI sees a world of 1: {NotTalking}", mpi: "mpich");
    }

    [Test]
    public void OneTaskUnderSrunWithoutAPmiPluginTrainsAlone()
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome train = Bounded("srun", ["--mpi=none", "-n", "1", ChildProcess.Hpcadam, "train", "--Data:Name=synthetic", "--Train:Steps=5", $"--Run:Dir={run}"]);
        Assert.That(train.ExitCode, Is.Zero, train.ToString());
        Assert.That(WorldSize(run), Is.EqualTo(1), train.ToString());
    }

    /// <summary>`hpcadam train` under `srun --mpi=none -n 2` with the shim HPCADAM_MPI names: each rank one line, exit 1, and no run folder.</summary>
    private void AssertTrainRefused(string refusal, string mpi)
    {
        string run = Path.Combine(TestDirectory, $"run-{mpi}");
        ProcessOutcome train = Bounded("srun", ["--mpi=none", "-n", "2", ChildProcess.Hpcadam, "train", "--Data:Name=synthetic", "--Train:Steps=5", $"--Run:Dir={run}"],
            new Dictionary<string, string> { ["HPCADAM_MPI"] = mpi });
        Assert.That(train.ExitCode, Is.EqualTo(ExitCodes.Failed), train.ToString());
        Assert.That(train.Stderr.Split('\n').Where(line => line.StartsWith("hpcadam", StringComparison.Ordinal)).Order(),
            Is.EqualTo(new[] { $"hpcadam: rank 0: {refusal}", $"hpcadam: rank 1: {refusal}" }), train.ToString());
        Assert.That(Directory.Exists(run), Is.False, $"{mpi}: no rank trained\n{train}");
    }

    [Test]
    public void SbatchWaitRunsMpirunOnTheJobsTwoTasks()
    {
        string run = Path.Combine(TestDirectory, "run"), output = Path.Combine(TestDirectory, "job.out"), job = Path.Combine(TestDirectory, "job.sbatch");
        File.WriteAllText(job, $"""
            #!/usr/bin/env bash
            #SBATCH --ntasks=2
            #SBATCH --output={output}
            set -euo pipefail
            mpirun -np "$SLURM_NTASKS" {ChildProcess.Hpcadam} train --Data:Name=synthetic --Train:Steps=5 --Run:Dir={run}
            """);

        ProcessOutcome outcome = Bounded("sbatch", ["--wait", $"--chdir={TestDirectory}", job]);
        string jobOutput = File.Exists(output) ? File.ReadAllText(output) : "(no output file)";
        Assert.That(outcome.ExitCode, Is.Zero, $"{outcome}\n--- {output}\n{jobOutput}");
        Assert.That(jobOutput, Does.Contain("test accuracy:"), jobOutput);
        Assert.That(WorldSize(run), Is.EqualTo(2), jobOutput);
    }

    [Test]
    public void ARankKilledUnderSrunEndsTheJobBeforeTheWatchdogsDeadlineAndTheSurvivorSaysWhy()
    {
        // The survivor's watchdog says "asked to stop" only when srun ended the job (its SIGTERM after a task died) before
        // Check:TimeoutSeconds ran out; past that deadline it says "has not completed after 60 s (Check:TimeoutSeconds)".
        // The job's time limit (2 minutes) lies beyond the deadline, so it cannot be what stopped the job either.
        ProcessOutcome outcome = Bounded("srun",
            ["--mpi=pmix", "--kill-on-bad-exit=1", "-n", "2", ChildProcess.Hpcadam, "train", "--Data:Name=synthetic", "--Train:Steps=100000",
             "--Check:TimeoutSeconds=60", $"--Run:Dir={Path.Combine(TestDirectory, "run")}"],
            new Dictionary<string, string> { ["HPCADAM_FAULT"] = "kill@1:20" });
        TestContext.Out.WriteLine($"srun, rank 1 killed at step 20: the job ended after {outcome.Elapsed.TotalSeconds:F1} s\n{outcome.Stderr}");

        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("task 1: Killed"), outcome.ToString());
        Assert.That(outcome.Stderr, Does.Match(@"hpcadam: rank 0: asked to stop, but the all-reduce #20 of step 20 has waited \d+ s: another rank has died; aborting"),
            outcome.ToString());
        Assert.That(outcome.Stderr, Does.Not.Contain("(Check:TimeoutSeconds)"), outcome.ToString());
    }

    private static ProcessOutcome Srun(int ranks, params string[] arguments) =>
        Bounded("srun", ["--mpi=pmix", "-n", $"{ranks}", ChildProcess.Hpcadam, .. arguments]);

    /// <summary>
    /// srun or sbatch with a time limit Slurm enforces and a name of its own, cancelled by that name
    /// afterwards whatever happened, so no job of a failed test lingers in the queue.
    /// </summary>
    internal static ProcessOutcome Bounded(string command, string[] arguments, IDictionary<string, string>? environment = null,
        SlurmCluster? cluster = null, int minutes = 2)
    {
        cluster ??= LocalSlurm.OneNode;
        string name = $"hpcadam-test-{Guid.NewGuid():N}";
        try
        {
            return cluster.Run(command, [$"--job-name={name}", $"--time={minutes}", .. arguments], s_deadline, environment);
        }
        finally
        {
            cluster.Run("scancel", [$"--name={name}"], TimeSpan.FromMinutes(1));
        }
    }

    internal static int WorldSize(string run) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "summary.json"))).RootElement.GetProperty("world_size").GetInt32();
}
