using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// One step of each optimizer on a 3-element buffer, against values worked out by hand from the
/// paper's algorithms. Two micro-batches g₁ = (1, 2, −1) and g₂ = (3, 0, −1), so
/// S1 = (4, 2, −2), S2 = (10, 4, 2), ḡ = (2, 1, −1), s̄ = (5, 2, 1), from w = (1, 1, 1) and a
/// fresh state. η = 0.1, γ1 = γ2 = 0.5, given at the step's own κ so no scaling applies.
/// </summary>
public sealed class HandComputedStepTests
{
    private static readonly AdamHyperparameters s_plain = new(LearningRate: 0.1, Gamma1: 0.5, Gamma2: 0.5, Epsilon: 0);

    [Test]
    public void BsiAdamDividesByTheRootOfTheMeanSquare()
    {
        // m = 0.5·ḡ, c1 = 0.5, so m̂ = ḡ = (2, 1, −1); v = 0.5·s̄, c2 = 0.5, so v̂ = s̄ = (5, 2, 1).
        double[] w = Step(OptimizerKind.BsiAdam, s_plain, kappa: 2);
        Assert.That(w, Is.EqualTo(new[] { 1 - 0.1 * 2 / Math.Sqrt(5), 1 - 0.1 * 1 / Math.Sqrt(2), 1 + 0.1 }).Within(1e-15));
    }

    [Test]
    public void StandardAdamDividesByTheRootOfTheSquaredMean()
    {
        // v̂ = ḡ² = (4, 1, 1): each coordinate moves by exactly η.
        double[] w = Step(OptimizerKind.Adam, s_plain, kappa: 2);
        Assert.That(w, Is.EqualTo(new[] { 0.9, 0.9, 1.1 }).Within(1e-15));
    }

    [Test]
    public void MicroAdamStepsOnOneMicroBatch()
    {
        // κ = 1 on g₁ alone, with λ = 0.5: w ← (1 − 0.05)·w − 0.1·g₁/|g₁|.
        double[] w = Step(OptimizerKind.MicroAdam, s_plain with { WeightDecay = 0.5 }, kappa: 1);
        Assert.That(w, Is.EqualTo(new[] { 0.95 - 0.1, 0.95 - 0.1, 0.95 + 0.1 }).Within(1e-15));
    }

    [Test]
    public void EpsilonGoesOutsideTheRootByDefaultAndInsideOnRequest()
    {
        // Standard Adam, v̂ = (4, 1, 1), ε = 1: outside √v̂ + 1 = (3, 2, 2); inside √(v̂ + 1) = (√5, √2, √2).
        double[] outside = Step(OptimizerKind.Adam, s_plain with { Epsilon = 1 }, kappa: 2);
        double[] inside = Step(OptimizerKind.Adam, s_plain with { Epsilon = 1, EpsilonInsideSqrt = true }, kappa: 2);
        Assert.That(outside, Is.EqualTo(new[] { 1 - 0.2 / 3, 1 - 0.1 / 2, 1 + 0.1 / 2 }).Within(1e-15));
        Assert.That(inside, Is.EqualTo(new[] { 1 - 0.2 / Math.Sqrt(5), 1 - 0.1 / Math.Sqrt(2), 1 + 0.1 / Math.Sqrt(2) }).Within(1e-15));
    }

    [Test]
    public void AdaGradAccumulatesTheSquaredMeanGradient()
    {
        // Step 1: a = ḡ² = (4, 1, 1), w −= 0.1·ḡ/√a = 0.1·(1, 1, −1).
        // Step 2: a = (8, 2, 2), w −= 0.1·ḡ/√a = 0.1·(1/√2, 1/√2, −1/√2).
        double[] w = Step(OptimizerKind.AdaGrad, s_plain, kappa: 2, steps: 2);
        double second = 0.1 / Math.Sqrt(2);
        Assert.That(w, Is.EqualTo(new[] { 0.9 - second, 0.9 - second, 1.1 + second }).Within(1e-15));
    }

    [Test]
    public void AdaGradNormAccumulatesTheSquaredNorm()
    {
        // Step 1: b² = ‖ḡ‖² = 6; step 2: b² = 12. w −= 0.1·ḡ/b each time.
        double[] w = Step(OptimizerKind.AdaGradNorm, s_plain, kappa: 2, steps: 2);
        double total = 0.1 / Math.Sqrt(6) + 0.1 / Math.Sqrt(12);
        Assert.That(w, Is.EqualTo(new[] { 1 - 2 * total, 1 - total, 1 + total }).Within(1e-15));
    }

    [Test]
    public void BiasCorrectionProductsFollowTheRatesOfEachStep()
    {
        using var weights = torch.ones(3, torch.float64);
        using var optimizer = new FlatOptimizer(weights, OptimizerKind.BsiAdam, s_plain with { Gamma1 = 0.25, Gamma2 = 0.125 },
            ScalingRule.Linear, referenceKappa: 2);
        using var s1 = torch.tensor(new double[] { 4, 2, -2 });
        using var s2 = torch.tensor(new double[] { 10, 4, 2 });
        optimizer.Step(s1, s2, kappa: 2);   // γ' = (0.25, 0.125)
        optimizer.Step(s1, s2, kappa: 4);   // γ' = (0.5, 0.25): κ changed between steps
        Assert.That(optimizer.State.C1, Is.EqualTo(0.75 * 0.5));
        Assert.That(optimizer.State.C2, Is.EqualTo(0.875 * 0.75));
        Assert.That((optimizer.State.Step, optimizer.State.Kappa), Is.EqualTo((2L, 4)));
    }

    [TestCase(OptimizerKind.BsiAdam)]
    [TestCase(OptimizerKind.Adam)]
    [TestCase(OptimizerKind.AdaGrad)]
    [TestCase(OptimizerKind.AdaGradNorm)]
    public void TheTensorOperationPathGivesTheSameStep(OptimizerKind kind)
    {
        double[] fused = Step(kind, s_plain with { Epsilon = 1e-3, WeightDecay = 0.2 }, kappa: 2, steps: 3);
        double[] tensorOperations = Step(kind, s_plain with { Epsilon = 1e-3, WeightDecay = 0.2 }, kappa: 2, steps: 3, useTensorOperations: true);
        Assert.That(tensorOperations, Is.EqualTo(fused).Within(1e-15));
    }

    private static double[] Step(OptimizerKind kind, AdamHyperparameters hyperparameters, int kappa, int steps = 1, bool useTensorOperations = false)
    {
        using var weights = torch.ones(3, torch.float64);
        using var optimizer = new FlatOptimizer(weights, kind, hyperparameters, ScalingRule.Linear, referenceKappa: kappa)
        {
            UseTensorOperations = useTensorOperations,
        };
        using var s1 = kappa == 1 ? torch.tensor(new double[] { 1, 2, -1 }) : torch.tensor(new double[] { 4, 2, -2 });
        using var s2 = kappa == 1 ? s1.square() : torch.tensor(new double[] { 10, 4, 2 });
        for (int step = 0; step < steps; step++)
            optimizer.Step(s1, s2, kappa);
        return weights.data<double>().ToArray();
    }
}
