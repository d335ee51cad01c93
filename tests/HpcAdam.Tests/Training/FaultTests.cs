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
    private static readonly TimeSpan s_noHang = TimeSpan.FromSeconds(60);

    [Test]
    public void ANonFiniteGradientOnOneRankMakesEveryRankSkipThatStep()
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = TrainingJobs.Run(2, run, ["--Train:Steps=6"], Fault("nonfinite@1:3"));
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
    public void ARankThatThrowsEndsEveryRankWithinAMinuteNamingIt()
    {
        ProcessOutcome outcome = TrainingJobs.Run(2, Path.Combine(TestDirectory, "run"), ["--Train:Steps=50"], Fault("throw@1:3"));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("hpcadam: rank 1: fault injected by HPCADAM_FAULT at step 3"));
        Assert.That(outcome.Elapsed, Is.LessThan(s_noHang));
    }

    [Test]
    public void AStalledRankIsCaughtByTheWatchdogOfTheOthers()
    {
        ProcessOutcome outcome = TrainingJobs.Run(2, Path.Combine(TestDirectory, "run"), ["--Train:Steps=50", "--Check:TimeoutSeconds=3"], Fault("stall@1:4"));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("hpcadam: rank 0: the all-reduce #4 of step 4 has not completed after 3 s (Check:TimeoutSeconds)"), outcome.ToString());
        Assert.That(outcome.Elapsed, Is.LessThan(s_noHang));
        TestContext.Out.WriteLine($"stall on rank 1 at step 4, Check:TimeoutSeconds=3: the job ended after {outcome.Elapsed.TotalSeconds:F1} s");
    }

    [Test]
    public void SigusrOnOneRankStopsEveryRankAfterTheSameStepWithACheckpointThatResumesExactly()
    {
        string stopped = Path.Combine(TestDirectory, "stopped"), whole = Path.Combine(TestDirectory, "whole");
        ProcessOutcome outcome = TrainingJobs.Run(2, stopped, ["--Train:Steps=20"], Fault("sigusr1@1:6"));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        // Rank 1 signals itself before step 6's all-reduce, which carries the request to rank 0.
        Assert.That(new RunFiles(stopped).Checkpoints(), Is.EqualTo(new[] { "00000006" }));
        Assert.That(File.ReadAllText(Path.Combine(stopped, "preempted")), Does.Contain("stopped after step 6 on another rank's signal"));

        TrainingJobs.Succeed(2, stopped, "--Train:Steps=20", "--Resume=latest");
        TrainingJobs.Succeed(2, whole, "--Train:Steps=20");
        Assert.That(TrainingJobs.Bytes(stopped, 20, "model.safetensors"), Is.EqualTo(TrainingJobs.Bytes(whole, 20, "model.safetensors")));
        Assert.That(File.Exists(Path.Combine(stopped, "preempted")), Is.False, "the resumed run finished: it is no longer pre-empted");
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

    private static Dictionary<string, string> Fault(string faults) => new() { ["HPCADAM_FAULT"] = faults };
}
