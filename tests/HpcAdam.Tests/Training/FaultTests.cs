using System.Diagnostics;

namespace HpcAdam.Tests.Training;

/// <summary>
/// Faults injected into real ranks (HPCADAM_FAULT): a NaN is skipped by every rank, a drifting or
/// failing or stalled rank is named and ends the job, and a signal stops the job at a step
/// boundary with a checkpoint it resumes from exactly.
/// </summary>
[TestFixture]
public sealed class FaultTests() : TemporaryDirectoryTest("hpcadam-faults-")
{
    /// <summary>Deadlines that only catch a hang: far beyond what start-up and load take.</summary>
    private static readonly TimeSpan s_noHang = TimeSpan.FromMinutes(3);

    /// <summary>With S2 sent as bfloat16 too: the NaN survives the rounding, and the flag rides in the float32 part.</summary>
    [TestCase("float32")]
    [TestCase("bfloat16")]
    public void ANonFiniteGradientOnOneRankMakesEveryRankSkipThatStep(string squaresPrecision)
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = TrainingJobs.Run(2, run, ["--Train:Steps=6", $"--Collectives:SquaresPrecision={squaresPrecision}"], Fault("nonfinite@1:3"));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        long[] skipped = new RunFiles(run).Metrics("step").Select(line => line.GetProperty("skipped").GetInt64()).ToArray();
        Assert.That(skipped, Is.EqualTo(new long[] { 0, 0, 1, 1, 1, 1 }));
    }

    [Test]
    public void TooManyNonFiniteStepsInARowStopTheJob()
    {
        ProcessOutcome outcome = TrainingJobs.Run(2, Path.Combine(TestDirectory, "run"), ["--Train:Steps=6", "--Train:MaxSkips=2"],
            Fault("nonfinite@0:2,nonfinite@0:3"));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("2 steps in a row, up to step 3, had a non-finite loss or gradient").And.Contain("Train:MaxSkips"));
    }

    [Test]
    public void ARankWhoseStateDriftsIsNamedWithTheStep()
    {
        ProcessOutcome outcome = TrainingJobs.Run(2, Path.Combine(TestDirectory, "run"), ["--Train:Steps=8", "--Check:Every=2"], Fault("desync@1:3"));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("rank 1's model differs from rank 0's at step 4 (Check:Every)"), outcome.ToString());
    }

    [Test]
    public void ARankThatThrowsNamesItsErrorAndAbortsEveryRankInThatStep()
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = TrainingJobs.Run(2, run, ["--Train:Steps=50"], Fault("throw@1:3"));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("hpcadam: rank 1: fault injected by HPCADAM_FAULT at step 3"), outcome.ToString());
        // Rank 0 ended in step 3's all-reduce, which rank 1 never joined: it logged steps 1 and 2 and never finished the run, and
        // mpirun returned, which it does only once every rank has ended. (Not mpirun's "MPI_ABORT was invoked" page: Open MPI 4.1
        // sometimes fails to print it, "Data unpack would read past end of buffer" in show_help.c, under load.)
        var files = new RunFiles(run);
        Assert.That(files.Metrics("step").Select(line => line.GetProperty("step").GetInt64()), Is.EqualTo(new long[] { 1, 2 }), outcome.ToString());
        Assert.That(File.Exists(Path.Combine(run, "summary.json")), Is.False, outcome.ToString());
    }

    /// <summary>README: "Set HPCADAM_TRACE=1 to print stack traces with errors"; without it an error is its one line.</summary>
    [Test]
    public void HpcadamTraceAddsTheStackTraceToAnError()
    {
        const string Error = "hpcadam: rank 0: fault injected by HPCADAM_FAULT at step 2";
        ProcessOutcome plain = TrainingJobs.Run(1, Path.Combine(TestDirectory, "plain"), ["--Train:Steps=4"], Fault("throw@0:2"));
        ProcessOutcome traced = TrainingJobs.Run(1, Path.Combine(TestDirectory, "traced"), ["--Train:Steps=4"],
            new Dictionary<string, string>(Fault("throw@0:2")) { ["HPCADAM_TRACE"] = "1" });

        Assert.That(plain.ExitCode, Is.Not.Zero, plain.ToString());
        Assert.That(plain.Stderr, Is.EqualTo(Error + "\n"), plain.ToString());
        Assert.That(traced.ExitCode, Is.EqualTo(plain.ExitCode), traced.ToString());
        Assert.That(traced.Stderr, Does.StartWith($"{Error}\nSystem.InvalidOperationException: fault injected by HPCADAM_FAULT at step 2\n"), traced.ToString());
        Assert.That(traced.Stderr, Does.Contain("   at HpcAdam.Training.FaultInjection.BeforeStep(").And.Contain("   at HpcAdam.Training.TrainingRun.Execute("));
    }

    [Test]
    public void AStalledRankIsCaughtByTheWatchdogOfTheOthers()
    {
        // Steps 1 to 3 take milliseconds: 10 s is far beyond what load does to them, and only the stall outlasts it.
        ProcessOutcome outcome = TrainingJobs.Run(2, Path.Combine(TestDirectory, "run"), ["--Train:Steps=50", "--Check:TimeoutSeconds=10"], Fault("stall@1:4"));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("hpcadam: rank 0: the all-reduce #4 of step 4 has not completed after 10 s (Check:TimeoutSeconds)"), outcome.ToString());
        TestContext.Out.WriteLine($"stall on rank 1 at step 4, Check:TimeoutSeconds=10: the job ended after {outcome.Elapsed.TotalSeconds:F1} s");
    }

    [Test]
    public void SigusrOnOneRankStopsEveryRankAfterTheSameStepWithACheckpointThatResumesExactly()
    {
        string stopped = Path.Combine(TestDirectory, "stopped"), whole = Path.Combine(TestDirectory, "whole");
        ProcessOutcome outcome = TrainingJobs.Run(2, stopped, ["--Train:Steps=20"], Fault("sigusr1@1:6"));
        // Rank 1 signals itself before step 6's all-reduce, which carries the request to rank 0.
        StoppedAfterAndResumesExactly(outcome, stopped, whole, stoppedStep: 6, steps: 20);
    }

    [Test]
    public void SigtermToOneRankOfAMultiRankJobStopsEveryRankAndTheResumeIsExact()
    {
        string stopped = Path.Combine(TestDirectory, "stopped"), whole = Path.Combine(TestDirectory, "whole");
        // Rank 1 waits at the start of step 5 until its signal comes, so the signal lands at a known step whatever the load.
        using StartedProcess job = ChildProcess.Start("mpirun", ["-np", "2", ChildProcess.Hpcadam, "train", $"--Run:Dir={stopped}", .. TrainingJobs.Small,
            "--Train:Steps=12"], Fault("wait@1:5"));
        WaitForSteps(stopped, 4);
        int rankOne = RankProcess(stopped, rank: 1);
        Process.Start("kill", ["-TERM", rankOne.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        StoppedAfterAndResumesExactly(job.Finish(s_noHang), stopped, whole, stoppedStep: 5, steps: 12);
    }

    /// <summary>
    /// The job in <paramref name="stopped"/> exited 0 after a signal, with one checkpoint at
    /// <paramref name="stoppedStep"/>; resumed to <paramref name="steps"/>, its model and optimizer
    /// files are byte-identical to an uninterrupted run's, each step is in the metrics once, and the
    /// folder is no longer marked pre-empted.
    /// </summary>
    private static void StoppedAfterAndResumesExactly(ProcessOutcome outcome, string stopped, string whole, int stoppedStep, int steps)
    {
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(new RunFiles(stopped).Checkpoints(), Is.EqualTo(new[] { stoppedStep.ToString("D8", System.Globalization.CultureInfo.InvariantCulture) }));
        Assert.That(File.ReadAllText(Path.Combine(stopped, "preempted")), Does.Contain($"stopped after step {stoppedStep} on another rank's signal"));

        TrainingJobs.Succeed(2, stopped, $"--Train:Steps={steps}", "--Resume=latest");
        TrainingJobs.Succeed(2, whole, $"--Train:Steps={steps}");
        foreach (string file in new[] { "model.safetensors", "optimizer.safetensors" })
            Assert.That(TrainingJobs.Bytes(stopped, steps, file), Is.EqualTo(TrainingJobs.Bytes(whole, steps, file)), file);
        Assert.That(new RunFiles(stopped).Metrics("step").Select(line => line.GetProperty("step").GetInt64()), Is.EqualTo(Enumerable.Range(1, steps).Select(step => (long)step)));
        Assert.That(File.Exists(Path.Combine(stopped, "preempted")), Is.False, "the resumed run finished: it is no longer pre-empted");
    }

    [Test]
    public void ANonFiniteLossWithAFiniteGradientOnOneRankIsSkippedByEveryRank()
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = TrainingJobs.Run(2, run, ["--Train:Steps=4", "--Check:Every=1"], Fault("nanloss@0:2"));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(new RunFiles(run).Metrics("step").Select(line => line.GetProperty("skipped").GetInt64()), Is.EqualTo(new long[] { 0, 1, 1, 1 }));
    }

    [TestCase("explode@1:3")]
    [TestCase("nonfinite@one:3")]
    [TestCase("nonfinite@1")]
    public void AMalformedFaultIsOneLineBeforeAnythingRuns(string fault)
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = TrainingJobs.Run(2, run, ["--Train:Steps=4"], Fault(fault));
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr.Split('\n').Where(line => line.StartsWith("hpcadam", StringComparison.Ordinal)).ToArray(),
            Is.EqualTo(new[] { $"hpcadam train: HPCADAM_FAULT = '{fault}': '{fault}' is not KIND@RANK:STEP with KIND one of nonfinite, nanloss, desync, throw, kill, stall, sigusr1, wait" }));
        Assert.That(Directory.Exists(run), Is.False);
    }

    [Test]
    public void RanksStartedWithDifferentSettingsAreNamedBeforeTraining()
    {
        string run = Path.Combine(TestDirectory, "run");
        string[] common = ["train", $"--Run:Dir={run}", .. TrainingJobs.Small, "--Train:Steps=4"];
        // mpirun's MPMD form: rank 0 and rank 1 are given different seeds.
        ProcessOutcome outcome = ChildProcess.Run("mpirun",
            ["-np", "1", ChildProcess.Hpcadam, .. common, "--Train:Seed=0", ":", "-np", "1", ChildProcess.Hpcadam, .. common, "--Train:Seed=1"], null, s_noHang);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("hpcadam train: rank 1 was started with another configuration than rank 0"), outcome.ToString());
        Assert.That(Directory.Exists(run), Is.False, "nothing is written before the ranks agree");
    }

    [Test]
    public void ARankThatDriftsInTheLastStepIsNamedAtTheEndOfTheRun()
    {
        ProcessOutcome outcome = TrainingJobs.Run(2, Path.Combine(TestDirectory, "run"), ["--Train:Steps=6"], Fault("desync@1:6"));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("rank 1's model differs from rank 0's at the end of step 6"), outcome.ToString());
    }

    [Test]
    public void SigtermToASingleProcessRunCheckpointsAtTheNextStepAndExits0()
    {
        string run = Path.Combine(TestDirectory, "run");
        using StartedProcess training = ChildProcess.Start(ChildProcess.Hpcadam,
            ["train", $"--Run:Dir={run}", .. TrainingJobs.Small, "--Train:Steps=1000000"], environment: null);
        WaitForSteps(run, 3);
        Process.Start("kill", ["-TERM", training.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])!.WaitForExit();
        ProcessOutcome outcome = training.Finish(s_noHang);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        var files = new RunFiles(run);
        long lastStep = files.Metrics("step")[^1].GetProperty("step").GetInt64();
        Assert.That(files.Checkpoints(), Is.EqualTo(new[] { lastStep.ToString("D8", System.Globalization.CultureInfo.InvariantCulture) }));
        Assert.That(File.ReadAllText(Path.Combine(run, "preempted")), Does.Contain($"stopped after step {lastStep} on SIGTERM"));
    }

    private static void WaitForSteps(string run, int steps)
    {
        var clock = Stopwatch.StartNew();
        string metrics = Path.Combine(run, "metrics.jsonl");
        while (!File.Exists(metrics) || File.ReadLines(metrics).Count(line => line.Contains("\"event\":\"step\"")) < steps)
        {
            Assert.That(clock.Elapsed, Is.LessThan(s_noHang), "the run never reached its first steps");
            Thread.Sleep(100);
        }
    }

    /// <summary>The process id of rank <paramref name="rank"/> of the mpirun job training into <paramref name="run"/>, as Open MPI numbered it.</summary>
    private static int RankProcess(string run, int rank)
    {
        foreach (string process in Directory.GetDirectories("/proc").Where(path => int.TryParse(Path.GetFileName(path), out _)))
        {
            try
            {
                if (File.ReadAllText(Path.Combine(process, "comm")).Trim() != "hpcadam"
                    || !File.ReadAllText(Path.Combine(process, "cmdline")).Contains($"--Run:Dir={run}\0", StringComparison.Ordinal))
                    continue;
                if (File.ReadAllText(Path.Combine(process, "environ")).Split('\0').Contains($"OMPI_COMM_WORLD_RANK={rank}"))
                    return int.Parse(Path.GetFileName(process), System.Globalization.CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The process ended while being read.
            }
        }
        Assert.Fail($"no rank {rank} of the job training into {run}");
        return 0;
    }

    private static Dictionary<string, string> Fault(string faults) => new() { ["HPCADAM_FAULT"] = faults };
}
