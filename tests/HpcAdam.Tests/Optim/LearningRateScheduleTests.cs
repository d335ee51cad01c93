using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// The schedule as the optimizer takes it: a factor on η alone, and per step the mean over its
/// micro-batches, so that one step of κ gets the η of κ steps of one micro-batch (Theorem 1).
/// </summary>
public sealed class LearningRateScheduleTests
{
    private static readonly AdamHyperparameters s_hyperparameters = new(LearningRate: 0.1, Gamma1: 0.5, Gamma2: 0.25, Epsilon: 0.01, WeightDecay: 0.5);

    public static IEnumerable<LearningRateSchedule> Schedules() =>
    [
        new(ScheduleKind.Constant, WarmupSamples: 1000),
        new(ScheduleKind.Cosine, WarmupSamples: 1000, ScheduleSamples: 20000, LrEndFactor: 0.1),
        new(ScheduleKind.Linear, WarmupSamples: 300, ScheduleSamples: 9000),
        new(ScheduleKind.Step, WarmupSamples: 500, StepSamples: 2500, StepFactor: 0.3),
    ];

    [TestCaseSource(nameof(Schedules))]
    public void OneStepOfKappaMicroBatchesGetsTheLrOfKappaStepsOfOne(LearningRateSchedule schedule)
    {
        schedule.Validate();
        const int microBatchSize = 25;
        foreach ((long first, int kappa) in new[] { (0L, 32), (3L, 7), (37L, 64), (350L, 5), (799L, 2) })
        {
            double merged = kappa * schedule.Factor(first, kappa, microBatchSize);
            double separate = Enumerable.Range(0, kappa).Sum(k => schedule.Factor(first + k, 1, microBatchSize));
            Assert.That(merged, Is.EqualTo(separate).Within(1e-12), $"κ = {kappa} from micro-batch {first}");
        }
        Assert.That(schedule.Factor(0, 1, microBatchSize), Is.GreaterThan(0), "the first micro-batch of a warm-up moves the weights");
    }

    [Test]
    public void TheFactorScalesLrAloneAndZeroMovesMAndVButNotW()
    {
        Steps half = TwoSteps(s_hyperparameters, scheduleFactor: 0.5), given = TwoSteps(s_hyperparameters with { LearningRate = 0.05 }, scheduleFactor: 1);
        Assert.That(half.W, Is.EqualTo(given.W));
        Assert.That((half.C1, half.C2), Is.EqualTo((given.C1, given.C2)), "γ1' and γ2' did not follow the schedule");
        Assert.That((half.Used.LearningRate, half.Used.Gamma1, half.Used.Gamma2), Is.EqualTo((0.05, 0.5, 0.25)));

        Steps still = TwoSteps(s_hyperparameters, scheduleFactor: 0);
        Assert.That(still.W, Is.EqualTo(new double[] { 1, 1, 1 }), "η' = 0, and so no weight decay either");
        Assert.That(still.MSum, Is.GreaterThan(0));
    }

    [Test]
    public void AFactorOutsideZeroToOneIsRefused()
    {
        using var weights = torch.ones(3, torch.float64);
        using var optimizer = new FlatOptimizer(weights, OptimizerKind.BsiAdam, s_hyperparameters);
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.EffectiveHyperparameters(1, scheduleFactor: 1.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => optimizer.EffectiveHyperparameters(1, scheduleFactor: double.NaN));
    }

    private sealed record Steps(double[] W, double C1, double C2, double MSum, AdamHyperparameters Used);

    private static Steps TwoSteps(AdamHyperparameters hyperparameters, double scheduleFactor)
    {
        using var weights = torch.ones(3, torch.float64);
        using var optimizer = new FlatOptimizer(weights, OptimizerKind.BsiAdam, hyperparameters, ScalingRule.Linear, referenceKappa: 2);
        using var s1 = torch.tensor(new double[] { 4, 2, -2 });
        using var s2 = torch.tensor(new double[] { 10, 4, 2 });
        optimizer.Step(s1, s2, kappa: 2, scheduleFactor: scheduleFactor);
        AdamHyperparameters used = optimizer.Step(s1, s2, kappa: 2, scheduleFactor: scheduleFactor);
        return new Steps(weights.data<double>().ToArray(), optimizer.State.C1, optimizer.State.C2, optimizer.State.M.abs().sum().item<double>(), used);
    }
}
