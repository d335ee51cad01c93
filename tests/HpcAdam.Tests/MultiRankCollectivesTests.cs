using HpcAdam.Collectives;

namespace HpcAdam.Tests;

/// <summary>
/// Real mpirun jobs of the hpcadam selftest: exact sums, chunking, broadcast, all-gather, failure. What
/// every rank received is read back from `selftest --write` and checked by <see cref="SelfTestResults"/>,
/// not by the product's own checks.
/// </summary>
public sealed class MultiRankCollectivesTests() : TemporaryDirectoryTest("hpcadam-selftest-")
{
    private const int CheckCount = 11;

    [TestCase(2)]
    [TestCase(4)]
    public void EveryCollectiveIsExactOnEveryRank(int ranks)
    {
        ProcessOutcome outcome = ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, ["selftest", "--write", TestDirectory]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"selftest passed: {CheckCount} checks on {ranks} rank(s)"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"chunk limit {int.MaxValue} elements"));
        SelfTestResults.RequireExact(TestDirectory, ranks);
    }

    [TestCase(2)]
    [TestCase(4)]
    public void SumsStayExactWhenEveryCallIsSplitIntoSmallChunks(int ranks)
    {
        // 7-element chunks: ~14,000 MPI calls per 100,003-element sum, each ending on a partial chunk.
        var environment = new Dictionary<string, string> { [MpiCommunicator.MaxChunkVariable] = "7" };
        ProcessOutcome outcome = ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, ["selftest", "--write", TestDirectory], environment);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("chunk limit 7 elements"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"selftest passed: {CheckCount} checks on {ranks} rank(s)"), outcome.ToString());
        SelfTestResults.RequireExact(TestDirectory, ranks);
    }

    [TestCase(2)]
    [TestCase(3)]
    public void BFloat16SumsRoundEachPartialSumAsTorchDoes(int ranks)
    {
        ProcessOutcome outcome = ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, ["selftest"]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Match(@"all-reduce bfloat16 as torch rounds +ok"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Match(@"float32 and bfloat16 summed together +ok"), outcome.ToString());
    }

    [Test]
    public void ARankThatThrowsEndsTheWholeJobInsteadOfHanging()
    {
        // Rank 1 throws while rank 0 already waits in an all-reduce that can never complete.
        ProcessOutcome outcome = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, ["selftest", "--fail-rank", "1"]);

        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("rank 1: injected failure on rank 1"), outcome.ToString());
    }
}
