using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// The fused host pass on float32 buffers long enough for many chunks and an odd tail: the same
/// result as the whole-tensor path, and the same bits at any thread count.
/// </summary>
public sealed class FusedKernelTests
{
    // Several 32K-element chunks and a tail that is not a multiple of any vector width.
    private const int Length = 5 * (1 << 15) + 13;

    private static readonly AdamHyperparameters s_hyperparameters = new(LearningRate: 1e-2, Gamma1: 0.1, Gamma2: 0.01, Epsilon: 1e-6, WeightDecay: 0.01);

    [TestCase(OptimizerKind.BsiAdam)]
    [TestCase(OptimizerKind.Adam)]
    [TestCase(OptimizerKind.AdaGrad)]
    [TestCase(OptimizerKind.AdaGradNorm)]
    public void MatchesTheTensorOperationsOnEveryElement(OptimizerKind kind)
    {
        using var fused = Run(kind, threads: 2, tensorOperations: false);
        using var tensorOperations = Run(kind, threads: 2, tensorOperations: true);
        // Weights lie in [0, 1), where a float32 ulp is at most 6e-8: the two orders of
        // operations may differ by a few ulps, a wrong formula by far more than the steps move.
        using var start = Start();
        double difference = (fused - tensorOperations).abs().max().item<float>();
        double moved = (fused - start).abs().max().item<float>();
        Assert.That(moved, Is.GreaterThan(1e-5), "the steps must move the weights");
        Assert.That(difference, Is.LessThan(5e-7));
    }

    [TestCase(OptimizerKind.BsiAdam)]
    [TestCase(OptimizerKind.AdaGradNorm)]
    public void GivesTheSameBitsOnOneThreadAndOnSeveral(OptimizerKind kind)
    {
        using var one = Run(kind, threads: 1, tensorOperations: false);
        using var several = Run(kind, threads: 4, tensorOperations: false);
        Assert.That(several.bytes.ToArray(), Is.EqualTo(one.bytes.ToArray()));
    }

    [TestCase(OptimizerKind.BsiAdam, false)]
    [TestCase(OptimizerKind.BsiAdam, true)]
    [TestCase(OptimizerKind.Adam, false)]
    [TestCase(OptimizerKind.AdaGrad, false)]
    public void AStepInPartsGivesTheBitsOfTheWholeStep(OptimizerKind kind, bool tensorOperations)
    {
        using var whole = Run(kind, threads: 2, tensorOperations);
        // Parts of unequal lengths, one of them shorter than a vector and one across a chunk boundary.
        using var parts = Run(kind, threads: 2, tensorOperations, parts: [0, 3, 40_000, 2 * (1 << 15) + 7, Length]);
        Assert.That(parts.bytes.ToArray(), Is.EqualTo(whole.bytes.ToArray()));
    }

    [Test]
    public void AdaGradNormCannotStepInParts()
    {
        using var optimizer = new FlatOptimizer(torch.zeros(10), OptimizerKind.AdaGradNorm, s_hyperparameters);
        Assert.That(optimizer.StepsInParts, Is.False, "its b² needs the whole step's ‖ḡ‖² before any weight moves");
    }

    [Test]
    public void BuffersOfAnotherLayoutAreRefusedNamingThem()
    {
        using var optimizer = new FlatOptimizer(torch.zeros(10), OptimizerKind.BsiAdam, s_hyperparameters);
        using var short_ = torch.zeros(9);
        using var wide = torch.zeros(10, torch.float64);
        Assert.That(() => optimizer.Step(short_, short_, 1), Throws.ArgumentException.With.Message.StartsWith("the gradient sum S1 is Float32 on cpu with 9 elements"));
        Assert.That(() => optimizer.Step(torch.zeros(10), wide, 1), Throws.ArgumentException.With.Message.StartsWith("the squared-gradient sum S2 is Float64"));
        Assert.That(() => optimizer.Step(torch.zeros(10), null, 1), Throws.ArgumentNullException.With.Message.Contains("BSI-Adam needs S2"));
    }

    [Test]
    public void MicroAdamRefusesMoreThanOneMicroBatchPerStep()
    {
        using var optimizer = new FlatOptimizer(torch.zeros(10), OptimizerKind.MicroAdam, s_hyperparameters);
        Assert.That(() => optimizer.Step(torch.zeros(10), null, 2), Throws.ArgumentException.With.Message.StartsWith("micro-adam applies one micro-batch per step"));
    }

    private static torch.Tensor Start() => torch.rand(Length, generator: new torch.Generator(1));

    /// <summary>Three steps, each whole, or as parts between the given boundaries.</summary>
    private static torch.Tensor Run(OptimizerKind kind, int threads, bool tensorOperations, long[]? parts = null)
    {
        using var optimizer = new FlatOptimizer(Start(), kind, s_hyperparameters, ScalingRule.Linear, referenceKappa: 4)
        {
            MaxThreads = threads,
            UseTensorOperations = tensorOperations,
        };
        var generator = new torch.Generator(2);
        for (int step = 0; step < 3; step++)
        {
            using var s1 = torch.randn(Length, generator: generator);
            using var s2 = s1.square() + torch.rand(Length, generator: generator);
            if (parts is null)
            {
                optimizer.Step(s1, s2, kappa: 2);
                continue;
            }
            StepPlan plan = optimizer.Plan(kappa: 2);
            for (int part = 0; part + 1 < parts.Length; part++)
                optimizer.StepPart(plan, s1, s2, parts[part], parts[part + 1] - parts[part]);
            optimizer.Commit(plan);
        }
        return optimizer.Weights.clone();
    }
}
