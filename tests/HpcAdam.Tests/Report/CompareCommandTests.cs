using System.Globalization;
using HpcAdam.Tests.Training;

namespace HpcAdam.Tests.Report;

/// <summary>`hpcadam compare` reads finished runs and reports when each first reached the target accuracy.</summary>
[TestFixture]
public sealed class CompareCommandTests() : TemporaryDirectoryTest("hpcadam-compare-")
{
    [Test]
    public void EachRunIsOneRowWithTheFirstEvaluationThatReachedTheTarget()
    {
        string fixedRun = Path.Combine(TestDirectory, "fixed"), adaptiveRun = Path.Combine(TestDirectory, "adaptive");
        RunFiles fixedFiles = TrainingJobs.Succeed(1, fixedRun, "--Train:Steps=20", "--Eval:Every=2");
        TrainingJobs.Succeed(1, adaptiveRun, "--Train:Steps=20", "--Eval:Every=2", "--Adaptive:Test=norm", "--Adaptive:MaxKappa=16");
        const double target = 0.5;
        var first = fixedFiles.Metrics("eval").First(line => line.GetProperty("test_accuracy").GetDouble() >= target);

        ProcessOutcome outcome = ChildProcess.RunAlone(["compare", "--target", "0.5", "--curves", fixedRun, adaptiveRun]);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        string row = outcome.Stdout.Split('\n').Single(line => line.StartsWith("| fixed |", StringComparison.Ordinal));
        string[] cells = row.Split('|', StringSplitOptions.TrimEntries)[1..^1];
        Assert.That(cells[1], Is.EqualTo("20"), "steps");
        Assert.That(cells[3], Is.EqualTo("64"), "mean batch: M = 16, κ = 4");
        Assert.That(cells[6], Is.EqualTo(first.GetProperty("step").GetInt64().ToString(CultureInfo.InvariantCulture)), "steps to the target");
        Assert.That(cells[7], Is.EqualTo(first.GetProperty("samples").GetInt64().ToString(CultureInfo.InvariantCulture)), "samples to the target");
        Assert.That(outcome.Stdout, Does.Contain("| adaptive |").And.Contain("# adaptive: test accuracy against steps and samples"));
    }

    [Test]
    public void AFolderWithoutAFinishedRunIsOneLineAndExitCode2()
    {
        ProcessOutcome outcome = ChildProcess.RunAlone(["compare", TestDirectory]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1));
        Assert.That(outcome.Stderr, Does.StartWith($"hpcadam compare: {TestDirectory} holds no finished run"));
    }
}
