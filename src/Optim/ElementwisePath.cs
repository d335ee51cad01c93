using HpcAdam.Optim.Cuda;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// The optimizer steps and the micro-batch accumulation over whole flat buffers that the host
/// pass cannot take: whole-tensor operations, or one fused GPU kernel each.
/// </summary>
internal interface IWholeBufferUpdate
{
    /// <summary>An Adam step (BSI-Adam, Adam, Micro-Adam) with <paramref name="c"/>; S2 is read for the mean of squares only.</summary>
    void Adam(torch.Tensor w, torch.Tensor m, torch.Tensor v, torch.Tensor s1, torch.Tensor? s2, in AdamStepCoefficients c);

    void AdaGrad(torch.Tensor w, torch.Tensor accumulator, torch.Tensor s1, int kappa, AdamHyperparameters effective);

    /// <summary>w ← (1 − ηλ)·w − scale·S1: AdaGrad-Norm's step once b is known.</summary>
    void ScaledDescent(torch.Tensor w, torch.Tensor s1, AdamHyperparameters effective, double scale);

    /// <summary>S1 += g, S2 += g⊙g.</summary>
    void Accumulate(torch.Tensor gradient, torch.Tensor s1, torch.Tensor s2);
}

/// <summary>
/// Where a pass over flat buffers runs, decided here once for the optimizer step and the
/// micro-batch accumulation: host memory (float32 or float64) in the vectorised host pass
/// (<see cref="Device"/> null); a float32 GPU buffer in one fused kernel where the kernels can be
/// built (<see cref="FusedGpuKernels"/>); anything else in whole-tensor operations.
/// </summary>
internal readonly record struct ElementwisePath(IWholeBufferUpdate? Device)
{
    public bool OnHost => Device is null;

    /// <summary>The whole-tensor operations, wherever the buffers are.</summary>
    public static ElementwisePath TensorOperations => new(WholeTensorUpdate.Instance);

    public static ElementwisePath For(torch.Tensor buffer) =>
        buffer.device_type == DeviceType.CPU && buffer.dtype is torch.ScalarType.Float32 or torch.ScalarType.Float64
            ? new ElementwisePath(Device: null)
            : new ElementwisePath((IWholeBufferUpdate?)FusedGpuKernels.For(buffer) ?? WholeTensorUpdate.Instance);
}
