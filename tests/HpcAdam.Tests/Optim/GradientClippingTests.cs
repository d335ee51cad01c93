using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// Optimizer:ClipNorm against BSI-Adam steps worked out by hand in doubles: 3 weights, κ = 2, c = 1.
/// The first step's mean gradient ḡ = (0.1, 0.2, −0.1) is shorter than c and passes as it is; the
/// second's, ḡ = (2, 1, −1), is √6 long and is clipped by s = 1/√6: S1 ← s·S1 for m, S2 ← s²·S2 for v.
/// </summary>
public sealed class GradientClippingTests
{
    private static readonly AdamHyperparameters s_hyperparameters = new(LearningRate: 0.1, Gamma1: 0.5, Gamma2: 0.25, Epsilon: 0.01);
    private static readonly double[][] s_gradientSums = [[0.2, 0.4, -0.2], [4, 2, -2]];
    private static readonly double[][] s_squaredGradientSums = [[0.04, 0.1, 0.02], [10, 4, 2]];

    [Test]
    public void TheClippedStepIsBsiAdamOnTheScaledMicroBatchGradients()
    {
        double[] scales = [1, 1 / Math.Sqrt(6)];
        (double[] w, double[] m, double[] v) = ByHand(scales);

        using var weights = torch.ones(3, torch.float64);
        using var optimizer = new FlatOptimizer(weights, OptimizerKind.BsiAdam, s_hyperparameters, ScalingRule.Linear, referenceKappa: 2);
        for (int step = 0; step < 2; step++)
        {
            using var s1 = torch.tensor(s_gradientSums[step]);
            using var s2 = torch.tensor(s_squaredGradientSums[step]);
            double norm = GradientStatistics.Measure(s1, s2, kappa: 2, microBatchSize: 1).GradNorm;
            Assert.That(GradientClipping.Apply(s1, s2, norm, clipNorm: 1), Is.EqualTo(scales[step]).Within(1e-15), $"s at step {step + 1}");
            optimizer.Step(s1, s2, kappa: 2);
        }
        Assert.Multiple(() =>
        {
            Assert.That(weights.data<double>().ToArray(), Is.EqualTo(w).Within(1e-14));
            Assert.That(optimizer.State.M.data<double>().ToArray(), Is.EqualTo(m).Within(1e-14));
            Assert.That(optimizer.State.V.data<double>().ToArray(), Is.EqualTo(v).Within(1e-14), "v saw the squares of the clipped gradients");
        });
        // Adam divides by the root of v, so a clipped step is not a plain rescaling: it moved w less than the unclipped one would.
        Assert.That(ByHand([1, 1]).W.Zip(w, (free, clipped) => Math.Abs(free - clipped)).Max(), Is.GreaterThan(1e-3));
    }

    [Test]
    public void OffOrNotBindingTheSumsStayAsTheyAre()
    {
        using var s1 = torch.tensor(s_gradientSums[1]);
        using var s2 = torch.tensor(s_squaredGradientSums[1]);
        double norm = Math.Sqrt(6);
        Assert.That(GradientClipping.Apply(s1, s2, norm, clipNorm: 0), Is.Null, "0 is off");
        Assert.That(GradientClipping.Apply(s1, s2, norm, clipNorm: 3), Is.EqualTo(1.0));
        Assert.That(s1.data<double>().ToArray(), Is.EqualTo(s_gradientSums[1]));
        Assert.That(s2.data<double>().ToArray(), Is.EqualTo(s_squaredGradientSums[1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.Apply(s1, s2, norm, clipNorm: -1));
    }

    /// <summary>The two steps of Alg. 3 from w = 1 with each micro-batch gradient multiplied by the step's scale.</summary>
    private static (double[] W, double[] M, double[] V) ByHand(double[] scales)
    {
        (double gamma1, double gamma2, double eta, double epsilon) = (0.5, 0.25, 0.1, 0.01);
        double[] w = [1, 1, 1], m = new double[3], v = new double[3];
        double c1 = 1, c2 = 1;
        for (int step = 0; step < 2; step++)
        {
            double s = scales[step];
            c1 *= 1 - gamma1;
            c2 *= 1 - gamma2;
            for (int j = 0; j < 3; j++)
            {
                double meanGradient = s * s_gradientSums[step][j] / 2, meanSquare = s * s * s_squaredGradientSums[step][j] / 2;
                m[j] = (1 - gamma1) * m[j] + gamma1 * meanGradient;
                v[j] = (1 - gamma2) * v[j] + gamma2 * meanSquare;
                w[j] -= eta * (m[j] / (1 - c1)) / (Math.Sqrt(v[j] / (1 - c2)) + epsilon);
            }
        }
        return (w, m, v);
    }
}
