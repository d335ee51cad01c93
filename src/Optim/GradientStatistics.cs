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
        var sums = new GradientSums(gradientSum, squaredGradientSum, maxThreads);
        sums.Add(0, gradientSum.numel());
        return sums.Measure(kappa, microBatchSize);
    }

    /// <summary>The statistics of a step of <paramref name="kappa"/> micro-batches of <paramref name="microBatchSize"/> samples from ‖S1‖² and Σ S2.</summary>
    internal static GradientStatistics FromSums(double squaredSum, double squareSum, int kappa, int microBatchSize)
    {
        double meanSquaredNorm = squaredSum / ((double)kappa * kappa);
        if (kappa < 2)
            return new GradientStatistics(Math.Sqrt(meanSquaredNorm), null, null) { Kappa = kappa, MicroBatchSize = microBatchSize };
        // Rounding can leave a tiny negative sum of variances when every micro-batch agrees.
        double variance = Math.Max(0, (squareSum - squaredSum / kappa) / (kappa - 1));
        double trueSquaredNorm = meanSquaredNorm - variance / kappa;
        return new GradientStatistics(Math.Sqrt(meanSquaredNorm), variance,
            trueSquaredNorm > 0 ? microBatchSize * variance / trueSquaredNorm : null) { Kappa = kappa, MicroBatchSize = microBatchSize };
    }
}

/// <summary>
/// ‖S1‖² and Σ S2, the two sums <see cref="GradientStatistics"/> needs, taken range by range as a bucketed all-reduce
/// delivers S1 and S2 (docs/training.md, "Buckets"). In host memory each chunk of <see cref="ChunkedParallel"/> is widened
/// to double vector by vector and summed on its own, and the chunks' sums are added in a fixed order at the end: one read
/// of each buffer, at memory speed, and the same bits on every rank, whatever the ranges, the order they come in or the
/// thread count. On a GPU the whole buffers are summed once, in <see cref="Measure"/>: sums per range would change the
/// bits with the bucket size.
/// </summary>
public sealed class GradientSums(torch.Tensor gradientSum, torch.Tensor squaredGradientSum, int maxThreads = 0)
{
    private readonly bool _onHost = gradientSum.device_type == DeviceType.CPU && gradientSum.dtype == torch.ScalarType.Float32;
    private readonly (double SquaredSum, double SquareSum)[] _chunks = new (double, double)[ChunkedParallel.ChunkCount(gradientSum.numel())];
    private readonly int _threads = maxThreads > 0 ? maxThreads : Math.Max(1, torch.get_num_threads());
    private long _added;

    /// <summary>Where a range may start: on a multiple of this many elements (a chunk's).</summary>
    public const long RangeAlignment = ChunkedParallel.ChunkElements;

    /// <summary>Elements [<paramref name="offset"/>, offset + <paramref name="count"/>) have their final sums; the offset is a multiple of <see cref="ChunkedParallel.ChunkElements"/>.</summary>
    public unsafe void Add(long offset, long count)
    {
        _added += count;
        if (!_onHost)
            return;
        ReadOnlySpan<float> first = HostSpan.Of<float>(gradientSum, "S1"), second = HostSpan.Of<float>(squaredGradientSum, "S2");
        var chunks = _chunks;
        fixed (float* s1 = first, s2 = second)
        {
            (nint s1Address, nint s2Address) = ((nint)s1, (nint)s2);
            ChunkedParallel.For(offset, offset + count, first.Length, _threads, (chunk, start, length) =>
            {
                float* g = (float*)s1Address + start, g2 = (float*)s2Address + start;
                Vector<double> squared = Vector<double>.Zero, squares = Vector<double>.Zero;
                int i = 0;
                for (; i <= length - Vector<float>.Count; i += Vector<float>.Count)
                {
                    Vector.Widen(Vector.Load(g + i), out Vector<double> low, out Vector<double> high);
                    squared += low * low + high * high;
                    Vector.Widen(Vector.Load(g2 + i), out low, out high);
                    squares += low + high;
                }
                double squaredSum = Vector.Sum(squared), squareSum = Vector.Sum(squares);
                for (; i < length; i++)
                {
                    squaredSum += (double)g[i] * g[i];
                    squareSum += g2[i];
                }
                chunks[chunk] = (squaredSum, squareSum);
            });
        }
    }

    /// <summary>The statistics, once every element has been added.</summary>
    public GradientStatistics Measure(int kappa, int microBatchSize)
    {
        if (_added != gradientSum.numel())
            throw new InvalidOperationException($"the sums cover {_added} of {gradientSum.numel()} elements; add every range before measuring");
        if (_onHost)
            return GradientStatistics.FromSums(_chunks.Sum(sums => sums.SquaredSum), _chunks.Sum(sums => sums.SquareSum), kappa, microBatchSize);
        using var scope = torch.NewDisposeScope();
        torch.Tensor s1 = gradientSum.to(torch.ScalarType.Float64), s2 = squaredGradientSum.to(torch.ScalarType.Float64);
        // Both sums in one copy to the host: one wait for the device, not two.
        double[] sums = torch.stack([s1.dot(s1), s2.sum()]).cpu().data<double>().ToArray();
        return GradientStatistics.FromSums(sums[0], sums[1], kappa, microBatchSize);
    }
}
