using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// The same steps as <see cref="FusedAdamKernel"/> and <see cref="FusedAdaGradKernel"/>, as a few
/// whole-buffer tensor operations (one kernel each on a GPU) for buffers that are not in host memory.
/// </summary>
internal static class WholeTensorUpdate
{
    public static void Adam(torch.Tensor w, torch.Tensor m, torch.Tensor v, torch.Tensor s1, torch.Tensor? s2, in AdamStepCoefficients c)
    {
        using var scope = torch.NewDisposeScope();
        torch.Tensor meanGradient = s1 * c.InverseKappa;
        torch.Tensor second = c.SecondMoment == SecondMomentSource.MeanOfSquares ? s2! * c.InverseKappa : meanGradient.square();
        m.mul_(1 - c.Gamma1).add_(meanGradient, alpha: c.Gamma1);
        v.mul_(1 - c.Gamma2).add_(second, alpha: c.Gamma2);
        torch.Tensor correctedV = v * c.InverseBiasCorrection2;
        torch.Tensor denominator = c.EpsilonInsideSqrt ? correctedV.add_(c.Epsilon).sqrt_() : correctedV.sqrt_().add_(c.Epsilon);
        w.mul_(c.WeightDecayFactor).addcdiv_(m, denominator, value: -c.StepSize);
    }

    public static void AdaGrad(torch.Tensor w, torch.Tensor accumulator, torch.Tensor s1, int kappa, AdamHyperparameters effective)
    {
        using var scope = torch.NewDisposeScope();
        torch.Tensor meanGradient = s1 / kappa;
        accumulator.addcmul_(meanGradient, meanGradient, value: 1);
        torch.Tensor denominator = effective.EpsilonInsideSqrt ? (accumulator + effective.Epsilon).sqrt_() : accumulator.sqrt().add_(effective.Epsilon);
        w.mul_(1 - effective.LearningRate * effective.WeightDecay).addcdiv_(meanGradient, denominator, value: -effective.LearningRate);
    }

    /// <summary>‖S1/κ‖² in double, as <see cref="FusedAdaGradKernel.SquaredNormOfMean{T}"/>.</summary>
    public static double SquaredNormOfMean(torch.Tensor s1, int kappa)
    {
        using var scope = torch.NewDisposeScope();
        return s1.to(torch.float64).square().sum().item<double>() / ((double)kappa * kappa);
    }

    public static void ScaledDescent(torch.Tensor w, torch.Tensor s1, AdamHyperparameters effective, double scale) =>
        w.mul_(1 - effective.LearningRate * effective.WeightDecay).add_(s1, alpha: -scale);
}
