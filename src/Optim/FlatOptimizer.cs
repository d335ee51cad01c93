using System.Numerics;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// One optimizer over one flat parameter buffer, updated in place from the step's sums
/// S1 = Σ_k g_k and S2 = Σ_k g_k⊙g_k over its κ micro-batches
/// (docs/ALGORITHMS.md, "The three optimizers"). Hyperparameters are given at a reference κ and scaled by the configured rule
/// for each step's κ, so κ may change between steps. On host memory the step is one fused
/// vectorised pass; on a GPU one fused kernel (<see cref="Cuda.FusedGpuKernels"/>), or a few whole-buffer tensor operations where the kernels cannot be built.
/// </summary>
public sealed class FlatOptimizer : IDisposable
{
    public FlatOptimizer(torch.Tensor weights, OptimizerKind kind, AdamHyperparameters reference,
        ScalingRule rule = ScalingRule.Linear, int referenceKappa = 1, bool scaleEpsilon = false)
    {
        if (weights.dtype is not (torch.ScalarType.Float32 or torch.ScalarType.Float64))
            throw new ArgumentException($"the weights are {weights.dtype}; the optimizer works on float32 (or float64) buffers", nameof(weights));
        if (!weights.is_contiguous())
            throw new ArgumentException("the weights are not contiguous; pass the flat buffer the parameters view", nameof(weights));
        reference.Validate();
        HyperparameterScaling.LearningRateFactor(rule, 1, referenceKappa);   // refuses an unknown rule or a reference κ below 1 now, not at the first step
        (Weights, Kind, Reference, Rule, ReferenceKappa, ScaleEpsilon) = (weights, kind, reference, rule, referenceKappa, scaleEpsilon);
        State = new OptimizerState(kind, weights);
    }

    public torch.Tensor Weights { get; }
    public OptimizerKind Kind { get; }
    public AdamHyperparameters Reference { get; }
    public ScalingRule Rule { get; }
    public int ReferenceKappa { get; }
    public bool ScaleEpsilon { get; }
    public OptimizerState State { get; }

    /// <summary>Threads for the host pass; by default as many as TorchSharp's own operations use.</summary>
    public int MaxThreads { get; set; } = Math.Max(1, torch.get_num_threads());

    /// <summary>Runs the tensor-operation path even on host memory or a GPU with the fused kernels (to test it, and compare).</summary>
    internal bool UseTensorOperations { get; set; }

    /// <summary>
    /// The hyperparameters a step of <paramref name="kappa"/> micro-batches uses, at <paramref name="scheduleFactor"/>
    /// f̄ ∈ [0, 1] of a <see cref="LearningRateSchedule"/>: η' = f̄·η·(the rule's factor), γ' as the rule gives them.
    /// AdaGrad and AdaGrad-Norm have no EMA rates and scale only η.
    /// </summary>
    public AdamHyperparameters EffectiveHyperparameters(int kappa, double scheduleFactor = 1)
    {
        if (!(scheduleFactor >= 0 && scheduleFactor <= 1))
            throw new ArgumentOutOfRangeException(nameof(scheduleFactor), scheduleFactor, "a schedule's factor on η lies in [0, 1]");
        AdamHyperparameters scaled = Kind.IsAdam()
            ? HyperparameterScaling.Scale(Reference, Rule, kappa, ReferenceKappa, ScaleEpsilon)
            : Reference with { LearningRate = Reference.LearningRate * HyperparameterScaling.LearningRateFactor(Rule, kappa, ReferenceKappa) };
        // The schedule moves η alone: γ1 and γ2 are rates per micro-batch of data, which a schedule of the step size
        // along the samples leaves as they are (docs/ALGORITHMS.md, "Learning-rate schedules"). Applied after the rule,
        // which checks η at f̄ = 1, so that f̄ = 0 (a schedule ended at 0) is a step that moves m and v but not w.
        return scaled with { LearningRate = scaled.LearningRate * scheduleFactor };
    }

    /// <summary>
    /// One step from the sums over <paramref name="kappa"/> micro-batches. <paramref name="squaredGradientSum"/>
    /// is needed by BSI-Adam only. The hyperparameters are scaled for <paramref name="hyperparameterKappa"/>,
    /// by default κ itself; an adaptive batch size that holds η' and γ' fixed (AdAdaGrad's practice)
    /// passes the κ they were set for. <paramref name="scheduleFactor"/> is a <see cref="LearningRateSchedule"/>'s
    /// f̄ for this step. Returns the hyperparameters the step used. The state (c1, c2,
    /// AdaGrad-Norm's sum, the step count) changes only once the kernel has run, so a step that throws
    /// leaves the optimizer as it was.
    /// </summary>
    public AdamHyperparameters Step(torch.Tensor gradientSum, torch.Tensor? squaredGradientSum, int kappa, int? hyperparameterKappa = null,
        double scheduleFactor = 1)
    {
        if (Kind == OptimizerKind.MicroAdam && kappa != 1)
            throw new ArgumentException($"micro-adam applies one micro-batch per step (Alg. 1), so κ must be 1, not {kappa}", nameof(kappa));
        RequireLike(gradientSum, "the gradient sum S1");
        if (Kind == OptimizerKind.BsiAdam)
            RequireLike(squaredGradientSum ?? throw new ArgumentNullException(nameof(squaredGradientSum), "BSI-Adam needs S2, the sum of squared micro-batch gradients"),
                "the squared-gradient sum S2");

        // 1. Scale: η' and γ' for this step's κ (docs/ALGORITHMS.md, "Scaling rules") and η' for its place in the schedule.
        AdamHyperparameters effective = EffectiveHyperparameters(hyperparameterKappa ?? kappa, scheduleFactor);
        // 2. Bias corrections: c_t = c_{t−1}·(1 − γ'), so m̂ = m/(1 − c1) and v̂ = v/(1 − c2) hold for any sequence of κ.
        (double c1, double c2) = Kind.IsAdam() ? (State.C1 * (1 - effective.Gamma1), State.C2 * (1 - effective.Gamma2)) : (State.C1, State.C2);
        // 3. The kernel: m, v and w in one pass over host memory, one fused kernel on a GPU, or a few whole-buffer operations.
        ElementwisePath path = UseTensorOperations ? ElementwisePath.TensorOperations : ElementwisePath.For(Weights);
        double squaredNormSum = State.SquaredNormSum;
        if (Kind == OptimizerKind.AdaGradNorm)
            squaredNormSum += path.OnHost ? SquaredNormOfMeanOnHost(gradientSum, kappa) : WholeTensorUpdate.SquaredNormOfMean(gradientSum, kappa);
        if (path.Device is { } device)
            StepOnDevice(device, gradientSum, squaredGradientSum, kappa, effective, c1, c2, squaredNormSum);
        else if (Weights.dtype == torch.ScalarType.Float32)
            StepOnHost<float>(gradientSum, squaredGradientSum, kappa, effective, c1, c2, squaredNormSum);
        else
            StepOnHost<double>(gradientSum, squaredGradientSum, kappa, effective, c1, c2, squaredNormSum);
        // 4. Commit the state the kernel used.
        (State.C1, State.C2, State.SquaredNormSum) = (c1, c2, squaredNormSum);
        State.Step++;
        State.Kappa = kappa;
        return effective;
    }

    private double SquaredNormOfMeanOnHost(torch.Tensor gradientSum, int kappa) => Weights.dtype == torch.ScalarType.Float32
        ? FusedAdaGradKernel.SquaredNormOfMean(HostSpan.Of<float>(gradientSum, "the gradient sum S1"), kappa, MaxThreads)
        : FusedAdaGradKernel.SquaredNormOfMean(HostSpan.Of<double>(gradientSum, "the gradient sum S1"), kappa, MaxThreads);

    private void StepOnHost<T>(torch.Tensor gradientSum, torch.Tensor? squaredGradientSum, int kappa, AdamHyperparameters effective,
        double c1, double c2, double squaredNormSum)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> w = HostSpan.Of<T>(Weights, "the weights");
        ReadOnlySpan<T> s1 = HostSpan.Of<T>(gradientSum, "the gradient sum S1");
        switch (Kind)
        {
            case OptimizerKind.BsiAdam or OptimizerKind.Adam or OptimizerKind.MicroAdam:
                ReadOnlySpan<T> s2 = Kind == OptimizerKind.BsiAdam ? HostSpan.Of<T>(squaredGradientSum!, "the squared-gradient sum S2") : [];
                FusedAdamKernel.Step(w, HostSpan.Of<T>(State.M, "m"), HostSpan.Of<T>(State.V, "v"), s1, s2, Coefficients(effective, kappa, c1, c2), MaxThreads);
                break;
            case OptimizerKind.AdaGrad:
                FusedAdaGradKernel.Step(w, HostSpan.Of<T>(State.V, "the AdaGrad accumulator"), s1, kappa, effective, MaxThreads);
                break;
            case OptimizerKind.AdaGradNorm:
                FusedAdaGradKernel.ScaledDescent(w, s1, effective, AdaGradNormScale(effective, kappa, squaredNormSum), MaxThreads);
                break;
        }
    }

    /// <summary>The step over the whole buffers: one fused kernel each on a GPU, or a few tensor operations.</summary>
    private void StepOnDevice(IWholeBufferUpdate device, torch.Tensor gradientSum, torch.Tensor? squaredGradientSum, int kappa,
        AdamHyperparameters effective, double c1, double c2, double squaredNormSum)
    {
        switch (Kind)
        {
            case OptimizerKind.BsiAdam or OptimizerKind.Adam or OptimizerKind.MicroAdam:
                device.Adam(Weights, State.M, State.V, gradientSum, squaredGradientSum, Coefficients(effective, kappa, c1, c2));
                break;
            case OptimizerKind.AdaGrad:
                device.AdaGrad(Weights, State.V, gradientSum, kappa, effective);
                break;
            case OptimizerKind.AdaGradNorm:
                device.ScaledDescent(Weights, gradientSum, effective, AdaGradNormScale(effective, kappa, squaredNormSum));
                break;
        }
    }

    private AdamStepCoefficients Coefficients(AdamHyperparameters effective, int kappa, double c1, double c2) =>
        AdamStepCoefficients.For(effective, kappa, c1, c2,
            Kind == OptimizerKind.BsiAdam ? SecondMomentSource.MeanOfSquares : SecondMomentSource.SquareOfMean);

    /// <summary>η/(b·κ) with b = √(b²) + ε (or √(b² + ε)): the factor on S1 = κ·ḡ in AdaGrad-Norm's step.</summary>
    private static double AdaGradNormScale(AdamHyperparameters effective, int kappa, double squaredNormSum)
    {
        double b = effective.EpsilonInsideSqrt
            ? Math.Sqrt(squaredNormSum + effective.Epsilon)
            : Math.Sqrt(squaredNormSum) + effective.Epsilon;
        return effective.LearningRate / (b * kappa);
    }

    private void RequireLike(torch.Tensor buffer, string name)
    {
        if (buffer.dtype != Weights.dtype || buffer.device_type != Weights.device_type || buffer.device_index != Weights.device_index || buffer.numel() != Weights.numel())
            throw new ArgumentException(
                $"{name} is {buffer.dtype} on {buffer.device} with {buffer.numel()} elements; the weights are {Weights.dtype} on {Weights.device} with {Weights.numel()}");
    }

    public void Dispose() => State.Dispose();
}
