using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace HpcAdam.Tests.Slurm;

/// <summary>
/// slurm/hpcadam.sbatch pre-empted as Slurm does it: SIGUSR1 to the job's ranks, a checkpoint at
/// the next step, exit 0, the script requeues the job, and the next start resumes from the
/// checkpoint and finishes the run with every step once. Rank 0 of the first start waits at step
/// 20 for the signal (HPCADAM_FAULT=wait@0:20), so the signal lands at step 20 however fast or
/// slow the machine is, and never after the run's end. On one node, and on two (namespace hosts),
/// where the signal reaches ranks on both and the requeued job starts again on both.
/// </summary>
[TestFixture]
public sealed class PreemptionTests() : TemporaryDirectoryTest("hpcadam-preempt-")
{
    private const int Steps = 200, SignalledStep = 20;
    private static readonly TimeSpan s_deadline = TimeSpan.FromMinutes(3);

    [TestCase(1)]
    [TestCase(2)]
    public void SignalCheckpointRequeueResume(int nodes)
    {
        SlurmCluster slurm = nodes == 1 ? LocalSlurm.OneNode : LocalSlurm.TwoNodes;
        string run = Path.Combine(TestDirectory, "run"), output = Path.Combine(TestDirectory, "job.out"), config = Path.Combine(TestDirectory, "config.json");
        File.WriteAllText(config, $$"""
            { "Data": { "Name": "synthetic" }, "Batch": { "MicroBatchSize": 16, "Kappa": 4 }, "Train": { "Steps": {{Steps}} } }
            """);
        var environment = new Dictionary<string, string>
        {
            ["CONFIG"] = config, ["RUN_DIR"] = run, ["HPCADAM_FAULT"] = $"wait@0:{SignalledStep}",
        };
        ProcessOutcome submitted = slurm.Run("sbatch",
            ["--parsable", $"--nodes={nodes}", $"--chdir={ChildProcess.RepoRoot}", $"--output={output}", "--time=5", Path.Combine(ChildProcess.RepoRoot, "slurm", "hpcadam.sbatch")],
            TimeSpan.FromMinutes(1), environment);
        Assert.That(submitted.ExitCode, Is.Zero, submitted.ToString());
        string job = submitted.Stdout.Trim().Split(';')[0];
        try
        {
            WaitUntil(() => StepLines(run) >= SignalledStep - 1, $"the first start to reach step {SignalledStep}", output);
            Slurm(slurm, "scancel", "--signal=USR1", job);
            // A requeued job waits until its old credential expires: 10 s on the one-node Slurm (cred_expire).
            // Forcing an earlier start makes slurmd refuse it ("Job credential revoked") and the job fails.
            WaitUntil(() => Field(slurm, job, "Restarts") == "1", "the script to requeue the job", output);
            WaitUntil(() => Field(slurm, job, "JobState") == "COMPLETED", "the second start to finish", output);
        }
        finally
        {
            slurm.Run("scancel", [job], TimeSpan.FromMinutes(1));
        }

        string log = File.ReadAllText(output);
        string[] checkpoints = new Training.RunFiles(run).Checkpoints();
        TestContext.Out.WriteLine($"checkpoints: {string.Join(", ", checkpoints)}\n--- job output\n{log}");
        Assert.That(log, Does.Contain("on SIGUSR1").And.Contain("== pre-empted: requeueing job").And.Contain("resumed from").And.Contain("test accuracy:"), log);
        Assert.That(log, Does.Contain($"on {nodes * 2} rank(s)"), log);
        if (nodes == 2)
            Assert.That(Regex.Count(log, @"== job \d+, start \d, on node\[1-2\]"), Is.EqualTo(2), "both starts on both nodes\n" + log);
        Assert.That(checkpoints, Is.EqualTo(new[] { SignalledStep, Steps }.Select(step => step.ToString("D8", CultureInfo.InvariantCulture))), log);
        Assert.That(new Training.RunFiles(run).Metrics("step").Select(line => line.GetProperty("step").GetInt64()),
            Is.EqualTo(Enumerable.Range(1, Steps).Select(step => (long)step)), "every step once across the two starts");
    }

    private static int StepLines(string run)
    {
        string metrics = Path.Combine(run, "metrics.jsonl");
        return File.Exists(metrics) ? File.ReadLines(metrics).Count(line => line.Contains("\"event\":\"step\"")) : 0;
    }

    /// <summary>A field of `scontrol show job` (Restarts, JobState, ...).</summary>
    private static string? Field(SlurmCluster slurm, string job, string name) =>
        Slurm(slurm, "scontrol", "show", "job", job).Stdout.Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(pair => pair.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..];

    private static ProcessOutcome Slurm(SlurmCluster slurm, string command, params string[] arguments)
    {
        ProcessOutcome outcome = slurm.Run(command, arguments, TimeSpan.FromMinutes(1));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        return outcome;
    }

    private static void WaitUntil(Func<bool> condition, string what, string output)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > s_deadline)
                Assert.Fail($"waited {s_deadline.TotalSeconds} s for {what}\n--- job output\n{(File.Exists(output) ? File.ReadAllText(output) : "(none)")}");
            Thread.Sleep(250);
        }
    }
}
