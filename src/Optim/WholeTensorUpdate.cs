using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// The same steps as <see cref="FusedAdamKernel"/> and <see cref="FusedAdaGradKernel"/>, and the
/// accumulation, as a few whole-buffer tensor operations (one kernel each on a GPU) for buffers that
/// are neither in host memory nor taken by the fused GPU kernels.
/// </summary>
internal sealed class WholeTensorUpdate : IWholeBufferUpdate
{
    public static readonly WholeTensorUpdate Instance = new();

    private WholeTensorUpdate()
    {
    }

    public void Adam(torch.Tensor w, torch.Tensor m, torch.Tensor v, torch.Tensor s1, torch.Tensor? s2, in AdamStepCoefficients c)
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

    public void AdaGrad(torch.Tensor w, torch.Tensor accumulator, torch.Tensor s1, int kappa, AdamHyperparameters effective)
    {
        using var scope = torch.NewDisposeScope();
        torch.Tensor meanGradient = s1 / kappa;
        accumulator.addcmul_(meanGradient, meanGradient, value: 1);
        torch.Tensor denominator = effective.EpsilonInsideSqrt ? (accumulator + effective.Epsilon).sqrt_() : accumulator.sqrt().add_(effective.Epsilon);
        w.mul_(effective.WeightDecayFactor).addcdiv_(meanGradient, denominator, value: -effective.LearningRate);
    }

    /// <summary>‖S1/κ‖² in double, as <see cref="FusedAdaGradKernel.SquaredNormOfMean{T}"/>.</summary>
    public static double SquaredNormOfMean(torch.Tensor s1, int kappa)
    {
        using var scope = torch.NewDisposeScope();
        return s1.to(torch.float64).square().sum().item<double>() / ((double)kappa * kappa);
    }

    public void ScaledDescent(torch.Tensor w, torch.Tensor s1, AdamHyperparameters effective, double scale) =>
        w.mul_(effective.WeightDecayFactor).add_(s1, alpha: -scale);

    public void Accumulate(torch.Tensor gradient, torch.Tensor s1, torch.Tensor s2)
    {
        s1.add_(gradient);
        s2.addcmul_(gradient, gradient, value: 1);
    }
}
