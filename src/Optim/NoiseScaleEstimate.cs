namespace HpcAdam.Optim;

/// <summary>
/// The gradient noise scale B_simple = tr Σ / ‖G‖², smoothed as docs/ALGORITHMS.md asks: numerator
/// and denominator each an EMA of the per-step estimates, divided only when read. A single
/// step's ‖G‖² estimate can be near zero or negative, so the raw ratio is far noisier than the
/// ratio of averages. Both EMAs start at zero with the same rate, so their bias corrections
/// cancel in the ratio. Both are per-sample quantities, so a change of κ does not disturb them.
/// </summary>
public sealed class NoiseScaleEstimate
{
    private readonly double _smoothing;

    /// <param name="smoothing">The EMA's rate α in (0, 1]: each step contributes α of its estimate.</param>
    public NoiseScaleEstimate(double smoothing)
    {
        if (!(smoothing > 0 && smoothing <= 1))
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "the smoothing rate must be in (0, 1]");
        _smoothing = smoothing;
    }

    /// <summary>The EMA of tr Σ ≈ M·V.</summary>
    public double Numerator { get; private set; }

    /// <summary>The EMA of the unbiased ‖G‖².</summary>
    public double Denominator { get; private set; }

    /// <summary>The smoothed B_simple in samples; null until the smoothed ‖G‖² is positive.</summary>
    public double? Value => Denominator > 0 ? Numerator / Denominator : null;

    /// <summary>Adds one step's estimates; a step without a variance (κ = 1) changes nothing.</summary>
    public void Add(GradientStatistics statistics)
    {
        if (statistics.TraceSigma is not { } trace || statistics.TrueSquaredNorm is not { } squaredNorm)
            return;
        Numerator += _smoothing * (trace - Numerator);
        Denominator += _smoothing * (squaredNorm - Denominator);
    }

    /// <summary>Takes over the EMAs of a checkpoint.</summary>
    public void Restore(double numerator, double denominator) => (Numerator, Denominator) = (numerator, denominator);
}
