using HpcAdam.Optim;

namespace HpcAdam.Tests;

/// <summary>The scaling rules of docs/ALGORITHMS.md (paper eq. 7, 9, 11–13) from a reference κ.</summary>
public sealed class HyperparameterScalingTests
{
    private static readonly AdamHyperparameters s_reference = new(LearningRate: 1e-3, Gamma1: 0.1, Gamma2: 0.001, Epsilon: 1e-8);

    [Test]
    public void LinearScalesLearningRateAndBothRatesWithKappa()
    {
        AdamHyperparameters scaled = HyperparameterScaling.Scale(s_reference, ScalingRule.Linear, kappa: 2, referenceKappa: 8);

        Assert.That(scaled.LearningRate, Is.EqualTo(2.5e-4).Within(1e-18));
        Assert.That(scaled.Gamma1, Is.EqualTo(0.025).Within(1e-15));
        Assert.That(scaled.Gamma2, Is.EqualTo(0.00025).Within(1e-18));
        Assert.That(scaled.Epsilon, Is.EqualTo(1e-8));
    }

    [Test]
    public void SqrtScalesTheLearningRateBySquareRootAndTheRatesLinearly()
    {
        AdamHyperparameters scaled = HyperparameterScaling.Scale(s_reference, ScalingRule.Sqrt, kappa: 1, referenceKappa: 4);
        AdamHyperparameters withEpsilon = HyperparameterScaling.Scale(s_reference, ScalingRule.Sqrt, kappa: 1, referenceKappa: 4, scaleEpsilon: true);

        Assert.That(scaled.LearningRate, Is.EqualTo(5e-4).Within(1e-18));
        Assert.That(scaled.Gamma1, Is.EqualTo(0.025).Within(1e-15));
        Assert.That(scaled.Epsilon, Is.EqualTo(1e-8));
        Assert.That(withEpsilon.Epsilon, Is.EqualTo(2e-8).Within(1e-22));
    }

    [Test]
    public void NoneKeepsTheGivenValuesAtAnyKappa()
    {
        Assert.That(HyperparameterScaling.Scale(s_reference, ScalingRule.None, kappa: 16, referenceKappa: 1), Is.EqualTo(s_reference));
    }

    [Test]
    public void ARateScaledToOneOrMoreIsRejectedNamingIt()
    {
        // γ1 = 0.1 at κ_ref = 1 becomes 1.6 at κ = 16.
        Assert.That(() => HyperparameterScaling.Scale(s_reference, ScalingRule.Linear, kappa: 16, referenceKappa: 1),
            Throws.TypeOf<HyperparameterException>().With.Message.Contains("Gamma1 = 0.1 at reference κ 1 becomes 1.6 at κ 16, outside (0, 1)")
                .And.Property(nameof(HyperparameterException.ParamName)).EqualTo("Gamma1"));
        Assert.That(() => HyperparameterScaling.Scale(s_reference with { Gamma1 = 0.01, Gamma2 = 0.2 }, ScalingRule.Sqrt, kappa: 5, referenceKappa: 1),
            Throws.TypeOf<HyperparameterException>().With.Message.StartsWith("Gamma2 = 0.2").And.Property(nameof(HyperparameterException.Value)).EqualTo(0.2));
    }

    [TestCase(0.0, 0.1, 0.001, 0.0, "LearningRate = 0")]
    [TestCase(1e-3, 1.0, 0.001, 0.0, "Gamma1 = 1")]
    [TestCase(1e-3, 0.1, 0.0, 0.0, "Gamma2 = 0")]
    [TestCase(1e-3, 0.1, 0.001, -1.0, "WeightDecay = -1")]
    [TestCase(0.5, 0.1, 0.001, 2.0, "WeightDecay = 2 times the learning rate 0.5")]
    public void ImpossibleHyperparametersAreRejectedNamingTheValue(double learningRate, double gamma1, double gamma2, double weightDecay, string message)
    {
        var hyperparameters = new AdamHyperparameters(learningRate, gamma1, gamma2, WeightDecay: weightDecay);
        Assert.That(hyperparameters.Validate, Throws.TypeOf<HyperparameterException>().With.Message.StartsWith(message)
            .And.Property(nameof(HyperparameterException.ParamName)).EqualTo(message.Split(' ')[0]));
    }

    [Test]
    public void KappaBelowOneIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => HyperparameterScaling.Scale(s_reference, ScalingRule.Linear, kappa: 0, referenceKappa: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => HyperparameterScaling.Scale(s_reference, ScalingRule.Linear, kappa: 1, referenceKappa: 0));
    }
}
