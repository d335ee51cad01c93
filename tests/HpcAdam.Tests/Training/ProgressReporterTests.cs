using HpcAdam.Trainer.Training;

namespace HpcAdam.Tests.Training;

/// <summary>Off a terminal (a log file, mpirun, srun), progress is a plain line per tenth of the run.</summary>
public sealed class ProgressReporterTests
{
    [Test]
    public void OffATerminalItWritesOneLinePerTenthAndTheLastStep()
    {
        using var output = new StringWriter { NewLine = "\n" };
        var progress = new ProgressReporter(totalSteps: 1000, output);
        for (int step = 1; step <= 1000; step++)
            progress.Report(step, done: step / 1000.0, last: step == 1000, loss: 1.0 / step, samplesPerSecond: 5000, secondsLeft: 1000 - step, memory: "peak rss 0.41 GiB (rank 1 of 2)");
        progress.Note("step 1000: test loss 0.1000, test accuracy 97.00%");

        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(11), output.ToString());
        Assert.That(lines[0], Does.StartWith("# step 100/1000  loss 0.0100  5000 samples/s  peak rss 0.41 GiB (rank 1 of 2)  eta 00:15:00"));
        Assert.That(lines[9], Is.EqualTo("# step 1000/1000  loss 0.0010  5000 samples/s  peak rss 0.41 GiB (rank 1 of 2)"));
        Assert.That(lines.All(line => !line.Contains('\r') && !line.Contains('\u001b')), Is.True, "control characters in a log");
    }
}
