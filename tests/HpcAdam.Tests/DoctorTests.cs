using HpcAdam.Trainer.Doctor;

namespace HpcAdam.Tests;

public sealed class DoctorTests
{
    [Test]
    public void AloneItReportsASingleProcessReadyToTrainAndTheGlibcxxCase()
    {
        ProcessOutcome outcome = ChildProcess.RunAlone(["doctor"]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("none: single process"));
        Assert.That(outcome.Stdout, Does.Match(@"MPI library +\S.* \(MPI [34]\.\d\)"));
        Assert.That(outcome.Stdout, Does.Contain("libtorch 2.10"));
        Assert.That(outcome.Stdout, Does.Contain(LibstdcxxCase.SystemProvidesVersion() ? "system provides GLIBCXX_3.4.32" : "system lacks GLIBCXX_3.4.32"));
        Assert.That(outcome.Stdout, Does.Contain("verdict: ready to train on 1 rank(s)"));
        // This machine has no usable CUDA: the rank trains on the CPU, and says so.
        Assert.That(outcome.Stdout, Does.Match(@"device +cpu"));
    }

    [Test]
    public void UnderMpirunEveryRankIsCheckedAndCounted()
    {
        ProcessOutcome outcome = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, ["doctor"]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Match(@"launcher +.*, 2 processes"));
        Assert.That(outcome.Stdout, Does.Contain("rank 0 of 2, local rank 0 of 2"));
        Assert.That(outcome.Stdout, Does.Contain("ok, 2 rank(s) answered"));
        Assert.That(outcome.Stdout, Does.Contain("verdict: ready to train on 2 rank(s)"));
    }
}
