using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>The fused S1/S2 accumulation, and the statistics read off S1 and S2.</summary>
public sealed class MicroBatchSumsTests
{
    [Test]
    public void TheFusedPassAddsTheGradientAndItsSquareOverChunksAndTail()
    {
        const int length = 3 * (1 << 15) + 13;
        using var generator = new torch.Generator(5);
        using torch.Tensor s1 = torch.randn(length, generator: generator), s2 = torch.rand(length, generator: generator),
            gradient = torch.randn(length, generator: generator);
        using torch.Tensor expectedS1 = s1 + gradient, expectedS2 = s2 + gradient * gradient;
        MicroBatchAccumulation.Add(gradient, s1, s2, maxThreads: 2);
        Assert.That(s1.bytes.ToArray(), Is.EqualTo(expectedS1.bytes.ToArray()));
        Assert.That(torch.allclose(s2, expectedS2, rtol: 1e-6, atol: 0), Is.True);
    }

    [Test]
    public void VarianceAndNoiseScaleMatchTheirClosedFormsOnAKnownNoise()
    {
        // κ micro-batch gradients g_k = G + noise with per-coordinate variance σ²: V → d·σ²,
        // and B_simple = M·V/‖G‖² → M·d·σ²/‖G‖².
        const int kappa = 400, dimension = 2000, microBatchSize = 8;
        const double sigma = 0.5;
        using var generator = new torch.Generator(11);
        using torch.Tensor trueGradient = torch.full(dimension, 0.1f);
        using torch.Tensor s1 = torch.zeros(dimension), s2 = torch.zeros(dimension);
        for (int k = 0; k < kappa; k++)
        {
            using torch.Tensor g = trueGradient + sigma * torch.randn(dimension, generator: generator);
            MicroBatchAccumulation.Add(g, s1, s2);
        }
        GradientStatistics statistics = GradientStatistics.Measure(s1, s2, kappa, microBatchSize);
        double variance = dimension * sigma * sigma, squaredNorm = dimension * 0.01;
        Assert.That(statistics.Variance, Is.EqualTo(variance).Within(2).Percent);
        Assert.That(statistics.NoiseScale, Is.EqualTo(microBatchSize * variance / squaredNorm).Within(10).Percent);
        Assert.That(statistics.GradNorm, Is.EqualTo(Math.Sqrt(squaredNorm + variance / kappa)).Within(2).Percent);
    }

    [Test]
    public void OneMicroBatchHasNoVarianceAndIdenticalOnesNoNoiseScale()
    {
        using torch.Tensor g = torch.tensor(new float[] { 3, 4 });
        GradientStatistics one = GradientStatistics.Measure(g, g * g, kappa: 1, microBatchSize: 4);
        Assert.That((one.GradNorm, one.Variance, one.NoiseScale, one.TrueSquaredNorm, one.TraceSigma), Is.EqualTo((5.0, (double?)null, (double?)null, (double?)null, (double?)null)));
        GradientStatistics same = GradientStatistics.Measure(2 * g, 2 * g * g, kappa: 2, microBatchSize: 4);
        Assert.That(same.Variance, Is.EqualTo(0).Within(1e-9));
        Assert.That(same.NoiseScale, Is.EqualTo(0).Within(1e-9));
    }

    /// <summary>The statistics' sums taken bucket by bucket, in any order, give the bits of one pass over the whole buffers.</summary>
    [Test]
    public void SumsTakenRangeByRangeGiveTheBitsOfTheWholeBuffer()
    {
        const long chunk = GradientSums.RangeAlignment, length = 5 * chunk + 77;
        using var generator = new torch.Generator(9);
        using torch.Tensor s1 = torch.randn(length, generator: generator), s2 = torch.rand(length, generator: generator);
        GradientStatistics whole = GradientStatistics.Measure(s1, s2, kappa: 4, microBatchSize: 8, maxThreads: 2);
        var sums = new GradientSums(s1, s2, maxThreads: 2);
        sums.Add(2 * chunk, 3 * chunk + 77);
        Assert.That(() => sums.Measure(4, 8), Throws.InvalidOperationException, "measured before every range has arrived");
        sums.Add(0, 2 * chunk);
        GradientStatistics parts = sums.Measure(kappa: 4, microBatchSize: 8);
        Assert.That((parts.GradNorm, parts.Variance, parts.NoiseScale), Is.EqualTo((whole.GradNorm, whole.Variance, whole.NoiseScale)));
        Assert.That(() => new GradientSums(s1, s2).Add(100, 10), Throws.InstanceOf<ArgumentOutOfRangeException>(), "a range that does not start on a chunk");
    }
}
