namespace HpcAdam.Optim;

/// <summary>The adaptive-sampling tests that can grow κ (docs/ALGORITHMS.md, "Adaptive batch size").</summary>
public enum SamplingTest
{
    None,
    Norm,
    InnerProduct,
    Augmented,
    Coordinate,
}

/// <summary>
/// What each test asks of κ, from the step's reduced statistics. Every test has the form
/// "a variance divided by κ is at most a tolerance", so each returns the smallest κ (real, not
/// rounded) at which it passes: the test passes at the step's κ exactly when the returned value
/// is at most κ. Null when the step cannot say (κ = 1, ḡ = 0, no previous direction yet).
/// </summary>
public static class SamplingTests
{
    public static readonly string[] Names = ["none", "norm", "inner-product", "augmented", "coordinate"];

    public static SamplingTest Parse(string name) => Array.IndexOf(Names, name.Trim().ToLowerInvariant()) is var index and >= 0
        ? (SamplingTest)index
        : throw new ArgumentException($"'{name}' is not a test: use one of {string.Join(", ", Names)}");

    public static string Name(SamplingTest test) => Names[(int)test];

    /// <summary>Norm test (η_n): V/κ ≤ η_n²·‖ḡ‖², so κ ≥ V / (η_n²·‖ḡ‖²).</summary>
    public static double? Norm(GradientStatistics statistics, double eta) =>
        statistics.Variance is { } variance && statistics.MeanSquaredNorm > 0 ? variance / (eta * eta * statistics.MeanSquaredNorm) : null;

    /// <summary>
    /// Inner-product test (θ): Var_k⟨g_k, ḡ⟩/κ ≤ θ²·‖ḡ‖⁴. With ḡ ≈ ‖ḡ‖·d for the unit direction d
    /// the projections were taken along, Var_k⟨g_k, ḡ⟩ = ‖ḡ‖²·Var_k⟨g_k, d⟩, so κ ≥ Var_k⟨g_k, d⟩ / (θ²·‖ḡ‖²).
    /// </summary>
    public static double? InnerProduct(GradientStatistics statistics, double? projectionVariance, double theta) =>
        projectionVariance is { } variance && statistics.MeanSquaredNorm > 0 ? variance / (theta * theta * statistics.MeanSquaredNorm) : null;

    /// <summary>
    /// Orthogonality test (ν): Σ_j Var_k(r_k)_j / κ ≤ ν²·‖ḡ‖² for the residuals r_k = g_k − ⟨g_k, d⟩·d.
    /// For a unit d the total variance splits exactly into the part along d and the part across it,
    /// so Σ_j Var_k(r_k)_j = V − Var_k⟨g_k, d⟩, with no further pass over the buffer.
    /// </summary>
    public static double? Orthogonality(GradientStatistics statistics, double? projectionVariance, double nu) =>
        projectionVariance is { } along && statistics.Variance is { } variance && statistics.MeanSquaredNorm > 0
            ? Math.Max(0, variance - along) / (nu * nu * statistics.MeanSquaredNorm)
            : null;

    /// <summary>
    /// The sample variance of the projections a_k = ⟨g_k, d⟩ − c from their sum and sum of
    /// squares over κ micro-batches; the shift c (any value the ranks share) keeps the float32
    /// sums from cancelling when the projections are large and alike.
    /// </summary>
    public static double? ProjectionVariance(double sum, double squareSum, int kappa) =>
        kappa < 2 ? null : Math.Max(0, (squareSum - sum * sum / kappa) / (kappa - 1));
}
