using HpcAdam.Collectives;
using HpcAdam.Optim;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Training;
using TorchSharp;

namespace HpcAdam.Tests.Training;

/// <summary>The batch-size controller's decisions, on steps whose norm-test demand is set exactly.</summary>
public sealed class BatchSizeControllerTests
{
    private const int MicroBatchSize = 8;

    /// <summary>
    /// One step of κ one-coordinate micro-batch gradients 1 ± δ (half each): ḡ = 1 and
    /// V = κδ²/(κ − 1), so with η_n = 1 the norm test asks for V = <paramref name="demand"/>.
    /// </summary>
    private static TestVerdict Step(BatchSizeController controller, StepBuffer buffer, long step, double demand)
    {
        int kappa = controller.Kappa;
        float delta = (float)Math.Sqrt(demand * (kappa - 1) / kappa);
        buffer.Clear();
        for (int k = 0; k < kappa; k++)
        {
            using torch.Tensor gradient = torch.tensor(new[] { k % 2 == 0 ? 1 + delta : 1 - delta });
            buffer.Add(gradient, meanLoss: 1, MicroBatchSize);
            if (controller.Direction is { } direction)
                buffer.AddProjection(direction.Project(gradient));
        }
        buffer.Reduce(new SingleProcessCommunicator(), stopRequested: false);
        return controller.AfterStep(step, GradientStatistics.Measure(buffer.S1, buffer.S2, kappa, MicroBatchSize), buffer);
    }

    [Test]
    public void KappaGrowsToTheRoundedUpDemandNeverShrinksAndStopsAtMaxKappa()
    {
        using torch.Tensor weights = torch.zeros(1);
        using var controller = new BatchSizeController(new AdaptiveSettings { Test = "norm", Eta = 1 }, kappa: 2, maxKappa: 16, weights);
        using var buffer = new StepBuffer(1, bufferElements: 0, rank: 0, ranks: 1);

        TestVerdict grown = Step(controller, buffer, step: 1, demand: 5.3);
        Assert.That(grown.RequestedKappa, Is.EqualTo(5.3).Within(1e-4).Percent);
        Assert.That(grown.Change, Is.EqualTo(new KappaChange(1, 2, 6, "norm", grown.RequestedKappa!.Value)));
        Assert.That(controller.Kappa, Is.EqualTo(6));

        Assert.That(Step(controller, buffer, step: 2, demand: 3).Change, Is.Null, "a passing test never shrinks κ");
        Assert.That(controller.Kappa, Is.EqualTo(6));

        Assert.That(Step(controller, buffer, step: 3, demand: 1000).Change, Is.EqualTo(new KappaChange(3, 6, 16, "norm", 1000)).Using<KappaChange>(SameChange));
        Assert.That(Step(controller, buffer, step: 4, demand: 1000).Change, Is.Null, "κ_max reached: nothing more to change");
        Assert.That(controller.Kappa, Is.EqualTo(16));
    }

    [Test]
    public void TheTestRunsOnlyEveryTestEverySteps()
    {
        using torch.Tensor weights = torch.zeros(1);
        using var controller = new BatchSizeController(new AdaptiveSettings { Test = "norm", Eta = 1, TestEvery = 3 }, kappa: 2, maxKappa: 64, weights);
        using var buffer = new StepBuffer(1, bufferElements: 0, rank: 0, ranks: 1);
        Assert.That(new[] { 1, 2 }.Select(step => Step(controller, buffer, step, demand: 10).RequestedKappa), Is.All.Null);
        Assert.That(controller.Kappa, Is.EqualTo(2));
        Assert.That(Step(controller, buffer, step: 3, demand: 9.5).Change?.New, Is.EqualTo(10));
    }

    [Test]
    public void TheInnerProductTestsWaitForTheFirstDirection()
    {
        using torch.Tensor weights = torch.zeros(1);
        using var controller = new BatchSizeController(new AdaptiveSettings { Test = "augmented" }, kappa: 4, maxKappa: 64, weights);
        using var buffer = new StepBuffer(1, bufferElements: 0, rank: 0, ranks: 1);
        Assert.That(Step(controller, buffer, step: 1, demand: 4).RequestedKappa, Is.Null, "no previous step, no direction");
        TestVerdict second = Step(controller, buffer, step: 2, demand: 4);
        // In one dimension every variance lies along the direction: Var_k⟨g_k, d⟩ = V and nothing is orthogonal.
        Assert.That(second.InnerProductKappa, Is.EqualTo(4 / (0.9 * 0.9)).Within(1e-3).Percent);
        Assert.That(second.OrthogonalityKappa, Is.EqualTo(0).Within(1e-6));
        Assert.That(second.Change?.New, Is.EqualTo(5));
    }

    private static bool SameChange(KappaChange a, KappaChange b) =>
        (a.Step, a.Old, a.New, a.Test) == (b.Step, b.Old, b.New, b.Test) && Math.Abs(a.Statistic - b.Statistic) < 1e-3 * b.Statistic;
}
