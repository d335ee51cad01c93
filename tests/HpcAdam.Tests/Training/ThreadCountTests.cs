namespace HpcAdam.Tests.Training;

/// <summary>
/// The libtorch threads a rank takes (docs/running.md, "Threads, and nodes shared with other jobs"):
/// with OMP_NUM_THREADS unset, its share of the cores, max(1, cores / ranks on the node); with it
/// set, what it says. Every other test sets OMP_NUM_THREADS=1, so only this one runs the rule.
/// </summary>
[TestFixture]
public sealed class ThreadCountTests() : TemporaryDirectoryTest("hpcadam-threads-")
{
    [Test]
    public void WithoutOmpNumThreadsEachRankTakesItsShareOfTheCoresAndWithItWhatItSays()
    {
        int cores = Environment.ProcessorCount;
        Assert.Multiple(() =>
        {
            Assert.That(Threads("alone", ["env", "-u", "OMP_NUM_THREADS", ChildProcess.Hpcadam]), Is.EqualTo(cores));
            Assert.That(Threads("two-ranks", ["env", "-u", "OMP_NUM_THREADS", "mpirun", "-np", "2", ChildProcess.Hpcadam]), Is.EqualTo(Math.Max(1, cores / 2)));
            // Two ranks of as many threads as cores each, twice their share. (libtorch takes no more than the cores, whatever the variable says.)
            Assert.That(Threads("chosen", ["env", $"OMP_NUM_THREADS={cores}", "mpirun", "-np", "2", ChildProcess.Hpcadam]), Is.EqualTo(cores));
        });
    }

    /// <summary>Two steps on the synthetic set, started by <paramref name="launch"/>: the threads its start line reports.</summary>
    private int Threads(string name, string[] launch)
    {
        string run = Path.Combine(TestDirectory, name);
        ProcessOutcome outcome = ChildProcess.Run(launch[0], [.. launch[1..], "train", $"--Run:Dir={run}", .. TrainingJobs.Small, "--Train:Steps=2"],
            environment: null, TimeSpan.FromMinutes(2));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        return new RunFiles(run).Metrics("start").Single().GetProperty("threads").GetInt32();
    }
}
