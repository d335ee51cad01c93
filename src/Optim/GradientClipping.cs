using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// Clipping of a step's mean gradient ḡ = S1/κ to a global L2 norm c
/// (docs/ALGORITHMS.md, "Gradient clipping"): s = min(1, c/‖ḡ‖), then S1 ← s·S1 and S2 ← s²·S2,
/// the sums of the micro-batch gradients s·g_k, so that m and v both see the clipped gradients,
/// as after PyTorch's clip_grad_norm_. Applied after the all-reduce to the reduced sums, from a
/// norm every rank computed from the same bytes, it is the same on every rank without communication.
/// </summary>
public static class GradientClipping
{
    /// <summary>
    /// Scales <paramref name="gradientSum"/> and <paramref name="squaredGradientSum"/> in place when
    /// <paramref name="meanGradientNorm"/>, ‖S1/κ‖, exceeds <paramref name="clipNorm"/>, and returns s;
    /// null when clipping is off (<paramref name="clipNorm"/> = 0).
    /// </summary>
    public static double? Apply(torch.Tensor gradientSum, torch.Tensor squaredGradientSum, double meanGradientNorm, double clipNorm)
    {
        if (!(clipNorm >= 0) || double.IsInfinity(clipNorm))
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "the clipping norm must be 0 (off) or a positive finite number");
        if (clipNorm == 0)
            return null;
        double scale = meanGradientNorm > clipNorm ? clipNorm / meanGradientNorm : 1;
        if (scale < 1)
        {
            using var _ = torch.no_grad();
            gradientSum.mul_(scale);
            squaredGradientSum.mul_(scale * scale);
        }
        return scale;
    }
}
