using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// The coordinate-wise norm test (AdAdaGrad's coordinate-wise scheme): coordinate j passes when
/// σ²_j/κ ≤ η_n²·ḡ_j², i.e. when κ ≥ r_j = σ²_j / (η_n²·ḡ_j²). Coordinates with ḡ_j ≈ 0 ask for
/// an unbounded κ and would decide everything if the largest r_j counted, so the demands are
/// aggregated by weight: each coordinate weighs ḡ_j², its share of ‖ḡ‖², and the step asks for
/// the weighted median, the smallest κ at which coordinates holding half of ‖ḡ‖² pass. (The
/// weighted mean of r_j would be the plain norm test again.)
///
/// One pass bins each r_j, rounded up to 1, 1.25, 1.5 or 1.75 times a power of two (the top
/// two mantissa bits of the float), into fixed chunks summed in order, so every rank gets the
/// same answer bit for bit; the answer is the upper edge of the median's bin.
/// </summary>
public static class CoordinateNormTest
{
    private const int Bins = 1024;   // 8 exponent bits and 2 mantissa bits of a float32

    /// <summary>The κ the test asks for, from the step's sums over κ ≥ 2 micro-batches; null when ḡ = 0.</summary>
    public static double? RequestedKappa(torch.Tensor gradientSum, torch.Tensor squaredGradientSum, int kappa, double eta, int maxThreads = 0)
    {
        if (kappa < 2)
            return null;
        if (gradientSum.device_type != DeviceType.CPU || gradientSum.dtype != torch.ScalarType.Float32)
        {
            using torch.Tensor s1 = gradientSum.to(torch.ScalarType.Float32, torch.CPU), s2 = squaredGradientSum.to(torch.ScalarType.Float32, torch.CPU);
            return RequestedKappa(s1, s2, kappa, eta, maxThreads);
        }
        double[] weights = Histogram(HostSpan.Of<float>(gradientSum, "S1"), HostSpan.Of<float>(squaredGradientSum, "S2"), kappa, eta,
            maxThreads > 0 ? maxThreads : Math.Max(1, torch.get_num_threads()));
        double total = weights.Sum(), cumulative = 0;
        if (!(total > 0))
            return null;
        for (int bin = 0; bin < Bins; bin++)
        {
            cumulative += weights[bin];
            if (cumulative >= total / 2)
                return UpperEdge(bin);
        }
        return UpperEdge(Bins - 1);
    }

    /// <summary>The value a bin's demands are rounded up to: 2^(e − 127)·(1 + m/4) for bin = 4e + m.</summary>
    private static double UpperEdge(int bin) => Math.ScaleB(1 + (bin & 3) / 4.0, (bin >> 2) - 127);

    private static unsafe double[] Histogram(ReadOnlySpan<float> first, ReadOnlySpan<float> second, int kappa, double eta, int maxThreads)
    {
        var partial = new double[ChunkedParallel.ChunkCount(first.Length)][];
        float inverseKappa = 1f / kappa, inverseKappaMinusOne = 1f / (kappa - 1), tolerance = (float)(eta * eta);
        fixed (float* s1 = first, s2 = second)
        {
            (nint s1Address, nint s2Address) = ((nint)s1, (nint)s2);
            ChunkedParallel.For(first.Length, maxThreads, (chunk, start, count) =>
            {
                var weights = new double[Bins];
                for (long i = start; i < start + count; i++)
                {
                    float mean = ((float*)s1Address)[i] * inverseKappa, squaredMean = mean * mean;
                    if (squaredMean == 0)
                        continue;
                    float variance = Math.Max(0, (((float*)s2Address)[i] - kappa * squaredMean) * inverseKappaMinusOne);
                    weights[Bin(variance / (tolerance * squaredMean))] += squaredMean;
                }
                partial[chunk] = weights;
            });
        }
        var total = new double[Bins];
        foreach (double[] weights in partial)
            for (int bin = 0; bin < Bins; bin++)
                total[bin] += weights[bin];
        return total;
    }

    /// <summary>The bin of a demand: its exponent and top two mantissa bits, one bin up when lower bits are set (rounding up).</summary>
    private static int Bin(float demand)
    {
        if (!float.IsFinite(demand))
            return Bins - 1;
        int bits = BitConverter.SingleToInt32Bits(demand);
        int bin = bits >> 21;
        return Math.Min(Bins - 1, (bits & ((1 << 21) - 1)) != 0 ? bin + 1 : bin);
    }
}
