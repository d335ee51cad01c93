using HpcAdam.Trainer.Bench;

namespace HpcAdam.Tests;

/// <summary>The cost model of `hpcadam bench scaling` on cases worked by hand, and the α–β fit on rows made from known α and β.</summary>
public sealed class ScalingModelTests
{
    // α = 1 µs, β = 1 GB/s; a step of 1 MB, 100 000 parameters (so 0.8 MB with bfloat16 squares).
    private static readonly Interconnect s_network = new("test", 1e-6, 1e9, "by hand");
    private static readonly StepCalibration s_one = new("test", MicroBatchSize: 32, ComputeMsPerMicroBatch: 10, CommunicationMs: 0.5, OptimizerMs: 2,
        StatisticsMs: 1, OtherMs: 0.5, Parameters: 100_000, BytesPerStep: 1e6);

    [TestCase(1, 0.0)]
    [TestCase(2, 2e-6 + 1e-3)] // 2·1·α + 2·1/2 · 1e6/β
    [TestCase(4, 6e-6 + 1.5e-3)] // 2·3·α + 2·3/4 · 1e6/β
    public void ARingAllReduceCostsTwoPMinusOneLatenciesAndTwoPMinusOneOverPOfTheBytes(int ranks, double seconds)
    {
        Assert.That(s_network.AllReduceSeconds(ranks, 1e6), Is.EqualTo(seconds).Within(1e-15));
    }

    [Test]
    public void StrongScalingOnFourRanksSplitsTheMicroBatchesAndAddsTheRing()
    {
        var model = new StepCostModel(s_one, s_network);
        ScalingPoint one = model.Predict(ScalingMode.Strong, 1, 8), four = model.Predict(ScalingMode.Strong, 4, 8);

        // One rank: 8 micro-batches of 10 ms, comm 0.5, optimizer 2, statistics 1, other 0.5.
        Assert.That(one.StepMs, Is.EqualTo(84).Within(1e-12));
        // Four ranks: 2 micro-batches each, comm 0.5 + 1.506 ms of ring.
        Assert.That(four.Ms.Compute, Is.EqualTo(20).Within(1e-12));
        Assert.That(four.Ms.Communication, Is.EqualTo(2.006).Within(1e-12));
        Assert.That(four.StepMs, Is.EqualTo(25.506).Within(1e-12));
        Assert.That(four.SamplesPerSecond, Is.EqualTo(8 * 32 * 1000 / 25.506).Within(1e-9));
        Assert.That(four.EfficiencyAgainst(one), Is.EqualTo(84 / (4 * 25.506)).Within(1e-12));
    }

    [Test]
    public void TheSlowestRankSetsThePace()
    {
        // κ = 3 on 2 ranks: rank 0 has two micro-batches.
        Assert.That(new StepCostModel(s_one, s_network).Predict(ScalingMode.Strong, 2, 3).Ms.Compute, Is.EqualTo(20).Within(1e-12));
    }

    [Test]
    public void WeakScalingKeepsEachRanksShareAndItsEfficiencyIsTheStepTimesRatio()
    {
        var model = new StepCostModel(s_one, s_network);
        var weak = new ScalingMode(ScalingMode.Weak, 2);
        ScalingPoint one = model.Predict(weak.Name, 1, weak.KappaAt(1)), four = model.Predict(weak.Name, 4, weak.KappaAt(4));

        Assert.That(four.Kappa, Is.EqualTo(8));
        Assert.That(one.StepMs, Is.EqualTo(24).Within(1e-12));
        Assert.That(four.StepMs, Is.EqualTo(25.506).Within(1e-12));
        Assert.That(four.EfficiencyAgainst(one), Is.EqualTo(24 / 25.506).Within(1e-12));
    }

    [Test]
    public void BFloat16SquaresSendSixBytesAParameterInsteadOfEight()
    {
        ScalingPoint four = new StepCostModel(s_one, s_network, SquareBytes: 2).Predict(ScalingMode.Strong, 4, 8);

        Assert.That(four.BytesPerStep, Is.EqualTo(1e6 - 2 * 100_000));
        Assert.That(four.Ms.Communication, Is.EqualTo(0.5 + 1000 * (6e-6 + 1.5 * 0.8e6 / 1e9)).Within(1e-12));
    }

    [Test]
    public void RanksBeyondASharedNodesCoresTakeTurnsAtTheirOwnWork()
    {
        // 4 ranks of 1 thread on 2 cores: each rank's work takes twice as long; the ring's time does not change.
        ScalingPoint four = new StepCostModel(s_one, s_network, Node: new SharedNode(Cores: 2, ThreadsPerRank: 1)).Predict(ScalingMode.Strong, 4, 8);

        double[] phases = [four.Ms.Compute, four.Ms.Communication, four.Ms.Optimizer, four.Ms.Statistics, four.Ms.Other];
        Assert.That(phases, Is.EqualTo(new[] { 40, 1 + 1.506, 4, 2, 1 }).Within(1e-12));
        Assert.That(new SharedNode(2, 1).Slowdown(2), Is.EqualTo(1));
    }

    [TestCase(-0.616, "-61.6%")]
    [TestCase(0.0123, "+1.2%")]
    [TestCase(-0.00001, "+0.0%")]
    public void ErrorsAreSignedPercentagesAndARoundedZeroHasNoMinus(double fraction, string text)
    {
        Assert.That(MeasuredRow.SignedPercent(fraction), Is.EqualTo(text));
    }

    [Test]
    public void TheFitRecoversAlphaAndBetaFromRowsOfSeveralWorldSizes()
    {
        var known = new Interconnect("known", 3e-6, 4e9, "made up");
        List<BandwidthRow> rows =
        [
            .. from ranks in new[] { 2, 4 }
               from shift in Enumerable.Range(0, 25)
               let bytes = 4L << shift
               select BandwidthRow.FromTime(bytes, sizeof(float), known.AllReduceSeconds(ranks, bytes), ranks, wrong: 0),
        ];

        Interconnect? fitted = AlphaBetaFit.Fit(rows, "fit", "rows", out string? problem);

        Assert.That(problem, Is.Null);
        Assert.That(fitted!.AlphaSeconds, Is.EqualTo(3e-6).Within(1e-9).Percent);
        Assert.That(fitted.BetaBytesPerSecond, Is.EqualTo(4e9).Within(1e-9).Percent);
    }

    [Test]
    public void RowsOfOneRankOrOfTimesThatFallWithSizeGiveNoFit()
    {
        BandwidthRow[] oneRank = [BandwidthRow.FromTime(4, 4, 1e-6, 1, 0), BandwidthRow.FromTime(1 << 20, 4, 1e-4, 1, 0)];
        BandwidthRow[] falling = [BandwidthRow.FromTime(4, 4, 1e-3, 2, 0), BandwidthRow.FromTime(1 << 20, 4, 1e-6, 2, 0)];

        Assert.That(AlphaBetaFit.Fit(oneRank, "fit", "rows", out string? none), Is.Null);
        Assert.That(none, Does.Contain("at least two message sizes timed on 2 or more ranks"));
        Assert.That(AlphaBetaFit.Fit(falling, "fit", "rows", out string? negative), Is.Null);
        Assert.That(negative, Does.Contain("with α and β positive"));
    }
}
