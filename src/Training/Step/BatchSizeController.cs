using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>A growth of κ: after step <c>Step</c>, from <c>Old</c> to <c>New</c>, because <c>Test</c> asked for <c>Statistic</c>.</summary>
internal sealed record KappaChange(long Step, int Old, int New, string Test, double Statistic);

/// <summary>What a step's statistics said: the requested κ of the configured test (null when untested) and, for the inner-product kinds, its two parts.</summary>
internal sealed record TestVerdict(double? RequestedKappa, double? InnerProductKappa, double? OrthogonalityKappa, KappaChange? Change)
{
    /// <summary>A skipped step's: no test ran.</summary>
    public static readonly TestVerdict Untested = new(null, null, null, null);
}

/// <summary>
/// The adaptive batch size (docs/ALGORITHMS.md, "Adaptive batch size"). Every rank calls it with the
/// same reduced sums after the same step, so every rank takes the same decision without another
/// collective. κ only grows, to the κ the failing test asks for (rounded up), never beyond
/// κ_max. It also smooths the noise scale, which every run logs.
/// </summary>
internal sealed class BatchSizeController : IDisposable
{
    private readonly AdaptiveSettings _settings;
    private readonly int _maxKappa;

    public BatchSizeController(AdaptiveSettings settings, int kappa, int maxKappa, Tensor weights)
    {
        (_settings, _maxKappa, Kappa) = (settings, maxKappa, kappa);
        Test = SamplingTests.Parse(settings.Test);
        Noise = new NoiseScaleEstimate(settings.Smoothing);
        if (Test is SamplingTest.InnerProduct or SamplingTest.Augmented)
            Direction = new ProjectionDirection(weights);
    }

    public SamplingTest Test { get; }

    /// <summary>κ for the next step.</summary>
    public int Kappa { get; private set; }

    public NoiseScaleEstimate Noise { get; }

    /// <summary>The direction the micro-batch gradients are projected on (inner-product and augmented tests); null otherwise.</summary>
    public ProjectionDirection? Direction { get; }

    /// <summary>Takes over a checkpoint's κ (capped by this run's κ_max, which a user may have lowered) and smoothed noise scale.</summary>
    public void Restore(int kappa, double noiseNumerator, double noiseDenominator)
    {
        Kappa = Math.Clamp(kappa, 1, _maxKappa);
        Noise.Restore(noiseNumerator, noiseDenominator);
    }

    /// <summary>
    /// After a step that was applied (not skipped): updates the noise scale, runs the test when
    /// the step is one of <c>Adaptive:TestEvery</c>, grows κ when it fails, and takes the step's
    /// direction for the next projections.
    /// </summary>
    public TestVerdict AfterStep(long step, GradientStatistics statistics, StepBuffer buffer)
    {
        Noise.Add(statistics);
        double? projectionVariance = Direction is { Known: true }
            ? SamplingTests.ProjectionVariance(buffer.Projections.Sum, buffer.Projections.SquareSum, statistics.Kappa)
            : null;
        Direction?.Follow(buffer.S1, statistics.Kappa);
        if (Test == SamplingTest.None || step % _settings.TestEvery != 0)
            return new TestVerdict(null, null, null, null);

        double? innerProduct = null, orthogonality = null, requested;
        switch (Test)
        {
            case SamplingTest.Norm:
                requested = SamplingTests.Norm(statistics, _settings.Eta);
                break;
            case SamplingTest.Coordinate:
                requested = CoordinateNormTest.RequestedKappa(buffer.S1, buffer.S2, statistics.Kappa, _settings.Eta);
                break;
            case SamplingTest.InnerProduct:
                requested = innerProduct = SamplingTests.InnerProduct(statistics, projectionVariance, _settings.Theta);
                break;
            default:
                innerProduct = SamplingTests.InnerProduct(statistics, projectionVariance, _settings.Theta);
                orthogonality = SamplingTests.Orthogonality(statistics, projectionVariance, _settings.Nu);
                requested = innerProduct is { } a && orthogonality is { } b ? Math.Max(a, b) : null;
                break;
        }

        KappaChange? change = null;
        if (requested is { } demand && demand > Kappa && Kappa < _maxKappa)
        {
            int grown = (int)Math.Min(_maxKappa, Math.Ceiling(demand));
            change = new KappaChange(step, Kappa, grown, SamplingTests.Name(Test), demand);
            Kappa = grown;
        }
        return new TestVerdict(requested, innerProduct, orthogonality, change);
    }

    public void Dispose() => Direction?.Dispose();
}
