namespace HpcAdam.Tests;

/// <summary>hpcadam's output shares files and pipes with the scripts around it, as job logs do.</summary>
[TestFixture]
public sealed class PlainConsoleTests() : TemporaryDirectoryTest("hpcadam-console-")
{
    [Test]
    public void ItsLinesLandBetweenTheScriptsLinesInASharedFile()
    {
        string log = Path.Combine(TestDirectory, "job.log");
        ProcessOutcome outcome = ChildProcess.Run("bash", ["-c", $"{{ echo before; '{ChildProcess.Hpcadam}' doctor; echo after; }} > '{log}'"],
            environment: null, TimeSpan.FromMinutes(1));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        string[] lines = File.ReadAllLines(log);
        Assert.That(lines[0], Is.EqualTo("before"));
        Assert.That(lines[1], Is.EqualTo("hpcadam doctor"));
        Assert.That(lines[^1], Is.EqualTo("after"));
    }

    [Test]
    public void AReaderThatStopsEarlyDoesNotFailTheCommand()
    {
        ProcessOutcome outcome = ChildProcess.Run("bash", ["-c", $"set -o pipefail; '{ChildProcess.Hpcadam}' doctor | head -c 1 > /dev/null"],
            environment: null, TimeSpan.FromMinutes(1));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Not.Contain("Unhandled exception"));
    }
}
