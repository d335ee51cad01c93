using TorchSharp;
using HpcAdam.Optim;
using HpcAdam.Collectives;

namespace HpcAdam.Tests;

/// <summary>
/// Real mpirun jobs of the hpcadam selftest: exact sums, chunking, broadcast, all-gather, failure. What
/// every rank received is read back from `selftest --write` and checked here, against values worked
/// out in this file, not by the product's own checks.
/// </summary>
public sealed class MultiRankCollectivesTests() : TemporaryDirectoryTest("hpcadam-selftest-")
{
    private const int CheckCount = 11, Elements = 100_003;

    [TestCase(2)]
    [TestCase(4)]
    public void EveryCollectiveIsExactOnEveryRank(int ranks)
    {
        ProcessOutcome outcome = ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, ["selftest", "--write", TestDirectory]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"selftest passed: {CheckCount} checks on {ranks} rank(s)"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain($"chunk limit {int.MaxValue} elements"));
        RequireExactResults(ranks);
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
        RequireExactResults(ranks);
    }

    /// <summary>
    /// Every rank received the same bytes, and they are what the collectives must give: rank r sent (i mod 251) + r + 1,
    /// so the sum over P ranks is P·(i mod 251) + P(P+1)/2, exact in float32; the float32 view's neighbours stay 0; the
    /// broadcast carries (7i + 3) mod 256 from the last rank; the all-gather rank r's r·1000003 + i, in rank order.
    /// </summary>
    private void RequireExactResults(int ranks)
    {
        byte[] rankZero = File.ReadAllBytes(Path.Combine(TestDirectory, "selftest.rank-0.safetensors"));
        for (int rank = 1; rank < ranks; rank++)
            Assert.That(File.ReadAllBytes(Path.Combine(TestDirectory, $"selftest.rank-{rank}.safetensors")), Is.EqualTo(rankZero), $"rank {rank} against rank 0");
        Dictionary<string, torch.Tensor> received;
        using (var file = new MemoryStream(rankZero))
            received = SafeTensorsFormat.Read(file).Tensors;
        double[] sums = [.. Enumerable.Range(0, Elements).Select(i => (double)ranks * (i % 251) + ranks * (ranks + 1) / 2)];
        Assert.Multiple(() =>
        {
            foreach (string sum in new[] { "all-reduce float32 span", "all-reduce float64 span", "all-reduce float64 tensor",
                                           "non-blocking all-reduce, test until done", "non-blocking all-reduce, wait" })
                Assert.That(Values(received[sum]), Is.EqualTo(sums), sum);
            Assert.That(Values(received["all-reduce float32 tensor view"]), Is.EqualTo((double[])[0, .. sums, 0]), "the view and its two neighbours");
            Assert.That(received["broadcast from the last rank"].data<long>().ToArray(),
                Is.EqualTo(Enumerable.Range(0, Elements | 1).Select(i => (long)(byte)(i * 7 + 3))));
            int block = Elements % 1000 + 17;
            Assert.That(received["all-gather in rank order"].data<long>().ToArray(),
                Is.EqualTo(Enumerable.Range(0, block * ranks).Select(i => (long)(i / block) * 1_000_003 + i % block)));
        });
        foreach (torch.Tensor tensor in received.Values)
            tensor.Dispose();
    }

    private static double[] Values(torch.Tensor tensor)
    {
        using torch.Tensor wide = tensor.to(torch.ScalarType.Float64);
        return wide.data<double>().ToArray();
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
