using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// The statistics and batch-size tests read off S1 and S2, against a known per-sample noise and
/// against the closed forms computed directly from the micro-batch gradients.
/// </summary>
public sealed class GradientNoiseTests
{
    private const int Dimension = 4000, MicroBatchSize = 16;

    /// <summary>
    /// Per-sample gradients G + ξ with ξ_j ~ N(0, σ_j²), averaged over M samples per micro-batch:
    /// tr Σ = Σ_j σ_j² and B_simple = tr Σ / ‖G‖² are known exactly.
    /// </summary>
    private sealed class KnownNoise : IDisposable
    {
        private readonly torch.Generator _generator = new(3);

        public KnownNoise()
        {
            TrueGradient = 0.05f * torch.randn(Dimension, generator: _generator);
            Sigma = 0.2f + torch.rand(Dimension, generator: _generator);   // σ_j in [0.2, 1.2)
        }

        public torch.Tensor TrueGradient { get; }
        public torch.Tensor Sigma { get; }
        public double TraceSigma => Sigma.square().sum().item<float>();
        public double NoiseScale => TraceSigma / TrueGradient.square().sum().item<float>();

        /// <summary>κ micro-batch gradients, each the mean of M per-sample gradients, as rows.</summary>
        public torch.Tensor MicroBatches(int kappa)
        {
            using torch.Tensor perSample = TrueGradient + Sigma * torch.randn(kappa, MicroBatchSize, Dimension, generator: _generator);
            return perSample.mean([1]);
        }

        public void Dispose()
        {
            TrueGradient.Dispose();
            Sigma.Dispose();
            _generator.Dispose();
        }
    }

    private static (torch.Tensor S1, torch.Tensor S2) Sums(torch.Tensor microBatches)
    {
        torch.Tensor s1 = torch.zeros(Dimension), s2 = torch.zeros(Dimension);
        for (int k = 0; k < microBatches.shape[0]; k++)
        {
            using torch.Tensor g = microBatches[k];
            MicroBatchAccumulation.Add(g, s1, s2);
        }
        return (s1, s2);
    }

    [Test]
    public void VarianceTraceAndSmoothedNoiseScaleAreWithinTenPercentOfAKnownNoise()
    {
        using var noise = new KnownNoise();
        var smoothed = new NoiseScaleEstimate(smoothing: 0.1);
        GradientStatistics last = default;
        for (int step = 0; step < 60; step++)
        {
            using torch.Tensor microBatches = noise.MicroBatches(kappa: 32);
            (torch.Tensor s1, torch.Tensor s2) = Sums(microBatches);
            using (s1)
            using (s2)
                last = GradientStatistics.Measure(s1, s2, kappa: 32, MicroBatchSize);
            smoothed.Add(last);
        }
        TestContext.Out.WriteLine($"tr Σ {noise.TraceSigma:F1}, measured {last.TraceSigma:F1}; B_simple {noise.NoiseScale:F0}, raw {last.NoiseScale:F0}, smoothed {smoothed.Value:F0}");
        Assert.That(last.Variance, Is.EqualTo(noise.TraceSigma / MicroBatchSize).Within(10).Percent, "V, the summed variance of micro-batch gradients");
        Assert.That(last.TraceSigma, Is.EqualTo(noise.TraceSigma).Within(10).Percent);
        Assert.That(smoothed.Value, Is.EqualTo(noise.NoiseScale).Within(10).Percent);
    }

    [Test]
    public void TheStatisticsOfThreeHandWrittenMicroBatchesAreTheHandComputedOnes()
    {
        // g1 = (1, 0), g2 = (3, 2), g3 = (2, 4), M = 10: ḡ = (2, 2), ‖ḡ‖² = 8; the sample variances
        // (divisor κ − 1 = 2) are 1 and 4, so V = 5 (a divisor of κ would give 10/3); ‖G‖² = 8 − 5/3;
        // tr Σ = M·V = 50; B_simple = 50 / (19/3) = 150/19 (the uncorrected 50/8 = 6.25 would be 21% off).
        using torch.Tensor rows = torch.tensor(new float[] { 1, 0, 3, 2, 2, 4 }).reshape(3, 2);
        using torch.Tensor s1 = torch.zeros(2), s2 = torch.zeros(2);
        for (int k = 0; k < 3; k++)
        {
            using torch.Tensor g = rows[k];
            MicroBatchAccumulation.Add(g, s1, s2);
        }
        GradientStatistics statistics = GradientStatistics.Measure(s1, s2, kappa: 3, microBatchSize: 10);
        Assert.Multiple(() =>
        {
            Assert.That(statistics.GradNorm, Is.EqualTo(Math.Sqrt(8)).Within(1e-12));
            Assert.That(statistics.Variance, Is.EqualTo(5).Within(1e-12));
            Assert.That(statistics.TrueSquaredNorm, Is.EqualTo(8 - 5.0 / 3).Within(1e-12));
            Assert.That(statistics.TraceSigma, Is.EqualTo(50).Within(1e-12));
            Assert.That(statistics.NoiseScale, Is.EqualTo(150.0 / 19).Within(1e-12));
            Assert.That(SamplingTests.Norm(statistics, eta: 0.5), Is.EqualTo(5 / (0.25 * 8)).Within(1e-12));
        });
    }

    [Test]
    public void TheUnbiasedSquaredNormTracksTheTrueGradientWhereTheRawOneDoesNot()
    {
        // Here the noise adds about 44% to ‖ḡ‖² at κ = 32: the correction −V/κ must take it off.
        using var noise = new KnownNoise();
        double trueSquaredNorm = noise.TrueGradient.square().sum().item<float>(), corrected = 0, raw = 0;
        const int steps = 60;
        for (int step = 0; step < steps; step++)
        {
            using torch.Tensor microBatches = noise.MicroBatches(kappa: 32);
            (torch.Tensor s1, torch.Tensor s2) = Sums(microBatches);
            using (s1)
            using (s2)
            {
                GradientStatistics statistics = GradientStatistics.Measure(s1, s2, kappa: 32, MicroBatchSize);
                corrected += statistics.TrueSquaredNorm!.Value / steps;
                raw += statistics.MeanSquaredNorm / steps;
            }
        }
        TestContext.Out.WriteLine($"‖G‖² {trueSquaredNorm:F3}: unbiased estimate {corrected:F3}, raw ‖ḡ‖² {raw:F3}");
        Assert.That(corrected, Is.EqualTo(trueSquaredNorm).Within(5).Percent);
        Assert.That(raw, Is.Not.EqualTo(trueSquaredNorm).Within(20).Percent, "the known noise is too weak to tell the estimates apart");
    }

    [Test]
    public void TheNormTestAsksForTheClosedFormKappa()
    {
        using var noise = new KnownNoise();
        const int kappa = 8;
        const double eta = 0.1;
        using torch.Tensor microBatches = noise.MicroBatches(kappa);
        (torch.Tensor s1, torch.Tensor s2) = Sums(microBatches);
        using (s1)
        using (s2)
        {
            GradientStatistics statistics = GradientStatistics.Measure(s1, s2, kappa, MicroBatchSize);
            // Directly from the rows, in double: V = Σ_j Var_k(g_k)_j (unbiased), ‖ḡ‖², and κ = V / (η²·‖ḡ‖²).
            using torch.Tensor rows = microBatches.to(torch.float64);
            double variance = rows.var([0]).sum().item<double>(), meanSquaredNorm = rows.mean([0]).square().sum().item<double>();
            Assert.That(SamplingTests.Norm(statistics, eta), Is.EqualTo(variance / (eta * eta * meanSquaredNorm)).Within(1e-4).Percent);
        }
    }

    /// <summary>A buffer the host pass cannot take (a GPU's; here float64) gets its two sums from tensor operations, in one copy to the host.</summary>
    [Test]
    public void TheTensorOperationPathMeasuresWhatTheHostPassMeasures()
    {
        using var noise = new KnownNoise();
        const int kappa = 8;
        using torch.Tensor microBatches = noise.MicroBatches(kappa);
        (torch.Tensor s1, torch.Tensor s2) = Sums(microBatches);
        using (s1)
        using (s2)
        {
            using torch.Tensor s1Wide = s1.to(torch.float64), s2Wide = s2.to(torch.float64);
            GradientStatistics host = GradientStatistics.Measure(s1, s2, kappa, MicroBatchSize),
                               tensors = GradientStatistics.Measure(s1Wide, s2Wide, kappa, MicroBatchSize);
            Assert.That(tensors.GradNorm, Is.EqualTo(host.GradNorm).Within(1e-9).Percent);
            Assert.That(tensors.Variance, Is.EqualTo(host.Variance!.Value).Within(1e-9).Percent);
        }
    }

    [Test]
    public void InnerProductAndOrthogonalityTestsMatchTheirDefinitionsAlongTheMeanDirection()
    {
        using var noise = new KnownNoise();
        const int kappa = 12;
        const double theta = 0.9, nu = 5.84;
        using torch.Tensor rows = noise.MicroBatches(kappa).to(torch.float64);
        using torch.Tensor mean = rows.mean([0]);
        double squaredNorm = mean.square().sum().item<double>();
        using torch.Tensor direction = mean / Math.Sqrt(squaredNorm);
        using torch.Tensor projections = rows.matmul(direction);
        using torch.Tensor residuals = rows - projections.unsqueeze(1) * direction;

        (torch.Tensor s1, torch.Tensor s2) = Sums(rows.to(torch.float32));
        using (s1)
        using (s2)
        {
            GradientStatistics statistics = GradientStatistics.Measure(s1, s2, kappa, MicroBatchSize);
            double shift = Math.Sqrt(squaredNorm);   // any shift: the variance ignores it
            using torch.Tensor shifted = projections - shift;
            double? along = SamplingTests.ProjectionVariance(shifted.sum().item<double>(), shifted.square().sum().item<double>(), kappa);
            // Definitions: Var_k⟨g_k, ḡ⟩ / (θ²‖ḡ‖⁴) and Σ_j Var_k(r_k)_j / (ν²‖ḡ‖²).
            using torch.Tensor innerProducts = rows.matmul(mean);
            double innerProduct = innerProducts.var().item<double>() / (theta * theta * squaredNorm * squaredNorm);
            double orthogonality = residuals.var([0]).sum().item<double>() / (nu * nu * squaredNorm);
            Assert.That(SamplingTests.InnerProduct(statistics, along, theta), Is.EqualTo(innerProduct).Within(1e-3).Percent);
            Assert.That(SamplingTests.Orthogonality(statistics, along, nu), Is.EqualTo(orthogonality).Within(1e-2).Percent);
        }
    }

    [Test]
    public void TheCoordinateTestAsksForTheMedianDemandWeightedByTheSquaredMeanGradient()
    {
        // Two micro-batches ḡ ± δ: σ_j² = 2δ_j², demand r_j = 2δ_j² / (η²ḡ_j²). 60% of ‖ḡ‖² demands 2.9 (the bin of 3),
        // 40% demands 100, and coordinates with ḡ_j = 0 but a large variance weigh nothing.
        const double eta = 0.5;
        float[] mean = [.. Enumerable.Repeat(1f, 60), .. Enumerable.Repeat(1f, 40), .. Enumerable.Repeat(0f, 100)];
        double[] demand = [.. Enumerable.Repeat(2.9, 60), .. Enumerable.Repeat(100.0, 40), .. Enumerable.Repeat(1.0, 100)];
        float[] delta = mean.Select((m, j) => m == 0 ? 10f : (float)Math.Sqrt(demand[j] * eta * eta * m * m / 2)).ToArray();
        using torch.Tensor g = torch.tensor(mean), d = torch.tensor(delta);
        using torch.Tensor first = g + d, second = g - d;
        using torch.Tensor s1 = first + second, s2 = first.square() + second.square();

        Assert.That(CoordinateNormTest.RequestedKappa(s1, s2, kappa: 2, eta), Is.EqualTo(3.0));
        // The norm test, the ḡ²-weighted mean of the demands, is pulled up by the noisy coordinates.
        Assert.That(SamplingTests.Norm(GradientStatistics.Measure(s1, s2, kappa: 2, MicroBatchSize), eta), Is.GreaterThan(100));
    }
}
