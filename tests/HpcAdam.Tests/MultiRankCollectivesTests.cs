using HpcAdam.Collectives;

namespace HpcAdam.Tests;

/// <summary>Real mpirun jobs of the hpcadam selftest: exact sums, chunking, broadcast, all-gather, failure.</summary>
public sealed class MultiRankCollectivesTests
{
    private const int CheckCount = 11;

    [TestCase(2)]
    [TestCase(4)]
    public void EveryCollectiveIsExactOnEveryRank(int ranks)
    {
        ProcessOutcome outcome = ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, ["selftest"]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"selftest passed: {CheckCount} checks on {ranks} rank(s)"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"chunk limit {int.MaxValue} elements"));
    }

    [TestCase(2)]
    [TestCase(4)]
    public void SumsStayExactWhenEveryCallIsSplitIntoSmallChunks(int ranks)
    {
        // 7-element chunks: ~14,000 MPI calls per 100,003-element sum, each ending on a partial chunk.
        var environment = new Dictionary<string, string> { [MpiCommunicator.MaxChunkVariable] = "7" };
        ProcessOutcome outcome = ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, ["selftest"], environment);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("chunk limit 7 elements"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"selftest passed: {CheckCount} checks on {ranks} rank(s)"), outcome.ToString());
    }

    /// <summary>
    /// The shim's bfloat16 sum against libtorch's rounding: on 2 ranks every element must be libtorch's
    /// (a.float() + b.float()).to(bfloat16) bit for bit, over ties (to even), ties that carry into the next
    /// binade or to infinity, subnormals, signed zeros, infinities and NaNs (a NaN as a NaN); on 3 ranks the
    /// sum in one of the orders an all-reduce may add three addends in, each partial sum so rounded; and a
    /// float32 and a bfloat16 tensor summed together, as the step sends S2 with Collectives:SquaresPrecision=bfloat16.
    /// </summary>
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
