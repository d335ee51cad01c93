using System.Numerics;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// What the step's sums say about the gradient, with no extra communication (docs/ALGORITHMS.md,
/// "Statistics that come free with S1 and S2"), for κ micro-batches of M samples:
/// <code>
/// ḡ = S1/κ                           grad_norm = ‖ḡ‖
/// V = Σ_j (S2_j − κ·ḡ_j²) / (κ − 1)  summed variance of the micro-batch gradients
/// ‖G‖² ≈ ‖ḡ‖² − V/κ                  unbiased squared norm of the true gradient
/// tr Σ ≈ M·V                         trace of the per-sample gradient covariance
/// B_simple = tr Σ / ‖G‖²             gradient noise scale in samples (McCandlish et al. 2018)
/// </code>
/// The variance needs κ ≥ 2, and B_simple a positive ‖G‖² estimate; otherwise they are null.
/// This is the raw per-step value; <see cref="NoiseScaleEstimate"/> smooths it.
/// </summary>
public readonly record struct GradientStatistics(double GradNorm, double? Variance, double? NoiseScale)
{
    /// <summary>κ of the step measured.</summary>
    public int Kappa { get; init; }

    /// <summary>M, samples per micro-batch.</summary>
    public int MicroBatchSize { get; init; }

    /// <summary>‖ḡ‖², the squared norm of the step's mean gradient.</summary>
    public double MeanSquaredNorm => GradNorm * GradNorm;

    /// <summary>‖G‖² ≈ ‖ḡ‖² − V/κ, unbiased (it can be negative when the noise dominates); null for κ = 1.</summary>
    public double? TrueSquaredNorm => Variance is { } v ? MeanSquaredNorm - v / Kappa : null;

    /// <summary>tr Σ ≈ M·V, in per-sample units; null for κ = 1.</summary>
    public double? TraceSigma => Variance * MicroBatchSize;

    public static GradientStatistics Measure(torch.Tensor gradientSum, torch.Tensor squaredGradientSum, int kappa, int microBatchSize, int maxThreads = 0)
    {
        (double squaredSum, double squareSum) = Sums(gradientSum, squaredGradientSum, maxThreads > 0 ? maxThreads : Math.Max(1, torch.get_num_threads()));
        double meanSquaredNorm = squaredSum / ((double)kappa * kappa);
        if (kappa < 2)
            return new GradientStatistics(Math.Sqrt(meanSquaredNorm), null, null) { Kappa = kappa, MicroBatchSize = microBatchSize };
        // Rounding can leave a tiny negative sum of variances when every micro-batch agrees.
        double variance = Math.Max(0, (squareSum - squaredSum / kappa) / (kappa - 1));
        double trueSquaredNorm = meanSquaredNorm - variance / kappa;
        return new GradientStatistics(Math.Sqrt(meanSquaredNorm), variance,
            trueSquaredNorm > 0 ? microBatchSize * variance / trueSquaredNorm : null) { Kappa = kappa, MicroBatchSize = microBatchSize };
    }

    /// <summary>
    /// ‖S1‖² and Σ S2, widened to double vector by vector and summed chunk by chunk in a fixed
    /// order, so every rank gets the same bits; one read of each buffer, at memory speed.
    /// </summary>
    private static unsafe (double SquaredSum, double SquareSum) Sums(torch.Tensor gradientSum, torch.Tensor squaredGradientSum, int maxThreads)
    {
        if (gradientSum.device_type != DeviceType.CPU || gradientSum.dtype != torch.ScalarType.Float32)
        {
            using var scope = torch.NewDisposeScope();
            torch.Tensor s1 = gradientSum.to(torch.ScalarType.Float64), s2 = squaredGradientSum.to(torch.ScalarType.Float64);
            // Both sums in one copy to the host: one wait for the device, not two.
            double[] sums = torch.stack([s1.dot(s1), s2.sum()]).cpu().data<double>().ToArray();
            return (sums[0], sums[1]);
        }
        ReadOnlySpan<float> first = HostSpan.Of<float>(gradientSum, "S1"), second = HostSpan.Of<float>(squaredGradientSum, "S2");
        var partial = new (double, double)[ChunkedParallel.ChunkCount(first.Length)];
        fixed (float* s1 = first, s2 = second)
        {
            (nint s1Address, nint s2Address) = ((nint)s1, (nint)s2);
            ChunkedParallel.For(first.Length, maxThreads, (chunk, start, count) =>
            {
                float* g = (float*)s1Address + start, g2 = (float*)s2Address + start;
                Vector<double> squared = Vector<double>.Zero, squares = Vector<double>.Zero;
                int i = 0;
                for (; i <= count - Vector<float>.Count; i += Vector<float>.Count)
                {
                    Vector.Widen(Vector.Load(g + i), out Vector<double> low, out Vector<double> high);
                    squared += low * low + high * high;
                    Vector.Widen(Vector.Load(g2 + i), out low, out high);
                    squares += low + high;
                }
                double squaredSum = Vector.Sum(squared), squareSum = Vector.Sum(squares);
                for (; i < count; i++)
                {
                    squaredSum += (double)g[i] * g[i];
                    squareSum += g2[i];
                }
                partial[chunk] = (squaredSum, squareSum);
            });
        }
        return (partial.Sum(sums => sums.Item1), partial.Sum(sums => sums.Item2));
    }
}
