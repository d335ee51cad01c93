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
        StepPlan plan = Plan(kappa, hyperparameterKappa, scheduleFactor);
        // AdaGrad-Norm's b² takes ‖ḡ‖² of the whole step before any weight moves.
        if (Kind == OptimizerKind.AdaGradNorm)
            plan = plan with { SquaredNormSum = plan.SquaredNormSum + SquaredNormOfMean(gradientSum, kappa) };
        StepPart(plan, gradientSum, squaredGradientSum, 0, Weights.numel());
        return Commit(plan);
    }

    /// <summary>Whether a step can run part by part (<see cref="StepPart"/>) as the sums arrive: every kind but AdaGrad-Norm, whose b² needs the whole ‖ḡ‖² first.</summary>
    public bool StepsInParts => Kind != OptimizerKind.AdaGradNorm;

    /// <summary>
    /// The scalars of a step of <paramref name="kappa"/> micro-batches (see <see cref="Step"/>): η' and γ' for this κ and
    /// schedule factor, and the bias-correction products after it. Nothing changes until <see cref="Commit"/>.
    /// </summary>
    public StepPlan Plan(int kappa, int? hyperparameterKappa = null, double scheduleFactor = 1)
    {
        if (Kind == OptimizerKind.MicroAdam && kappa != 1)
            throw new ArgumentException($"micro-adam applies one micro-batch per step (Alg. 1), so κ must be 1, not {kappa}", nameof(kappa));
        // 1. Scale: η' and γ' for this step's κ (docs/ALGORITHMS.md, "Scaling rules") and η' for its place in the schedule.
        AdamHyperparameters effective = EffectiveHyperparameters(hyperparameterKappa ?? kappa, scheduleFactor);
        // 2. Bias corrections: c_t = c_{t−1}·(1 − γ'), so m̂ = m/(1 − c1) and v̂ = v/(1 − c2) hold for any sequence of κ.
        (double c1, double c2) = Kind.IsAdam() ? (State.C1 * (1 - effective.Gamma1), State.C2 * (1 - effective.Gamma2)) : (State.C1, State.C2);
        return new StepPlan(kappa, effective, c1, c2, State.SquaredNormSum);
    }

    /// <summary>
    /// The kernel of <paramref name="plan"/> on elements [<paramref name="offset"/>, offset + <paramref name="count"/>) of the
    /// weights, m and v, from the same range of the whole sums: m, v and w in one pass over host memory, one fused kernel on
    /// a GPU, or a few tensor operations. Parts that cover the buffer once give the bits of one whole step: every element's
    /// update depends on that element alone.
    /// </summary>
    public void StepPart(in StepPlan plan, torch.Tensor gradientSum, torch.Tensor? squaredGradientSum, long offset, long count)
    {
        RequireLike(gradientSum, "the gradient sum S1");
        if (Kind == OptimizerKind.BsiAdam)
            RequireLike(squaredGradientSum ?? throw new ArgumentNullException(nameof(squaredGradientSum), "BSI-Adam needs S2, the sum of squared micro-batch gradients"),
                "the squared-gradient sum S2");
        using var scope = torch.NewDisposeScope();
        var part = new Part(Weights.narrow(0, offset, count), Range(State.M, offset, count), Range(State.V, offset, count),
            gradientSum.narrow(0, offset, count), Kind == OptimizerKind.BsiAdam ? squaredGradientSum!.narrow(0, offset, count) : null);
        ElementwisePath path = UseTensorOperations ? ElementwisePath.TensorOperations : ElementwisePath.For(Weights);
        if (path.Device is { } device)
            StepOnDevice(device, part, plan);
        else if (Weights.dtype == torch.ScalarType.Float32)
            StepOnHost<float>(part, plan);
        else
            StepOnHost<double>(part, plan);
    }

    /// <summary>Commits the state <paramref name="plan"/>'s kernels used, once every part has run; returns the hyperparameters of the step.</summary>
    public AdamHyperparameters Commit(in StepPlan plan)
    {
        (State.C1, State.C2, State.SquaredNormSum) = (plan.C1, plan.C2, plan.SquaredNormSum);
        State.Step++;
        State.Kappa = plan.Kappa;
        return plan.Effective;
    }

    private double SquaredNormOfMean(torch.Tensor gradientSum, int kappa)
    {
        RequireLike(gradientSum, "the gradient sum S1");
        if (UseTensorOperations || ElementwisePath.For(Weights).Device is not null)
            return WholeTensorUpdate.SquaredNormOfMean(gradientSum, kappa);
        return Weights.dtype == torch.ScalarType.Float32
            ? FusedAdaGradKernel.SquaredNormOfMean(HostSpan.Of<float>(gradientSum, "the gradient sum S1"), kappa, MaxThreads)
            : FusedAdaGradKernel.SquaredNormOfMean(HostSpan.Of<double>(gradientSum, "the gradient sum S1"), kappa, MaxThreads);
    }

    /// <summary>The range of a state buffer; an optimizer without that buffer (AdaGrad has no m, AdaGrad-Norm no v) has an empty one.</summary>
    private static torch.Tensor Range(torch.Tensor state, long offset, long count) => state.numel() == 0 ? state.alias() : state.narrow(0, offset, count);

    /// <summary>Views of one range of the weights, m, v, S1 and S2.</summary>
    private readonly record struct Part(torch.Tensor W, torch.Tensor M, torch.Tensor V, torch.Tensor S1, torch.Tensor? S2);

    private void StepOnHost<T>(in Part part, in StepPlan plan)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> w = HostSpan.Of<T>(part.W, "the weights");
        ReadOnlySpan<T> s1 = HostSpan.Of<T>(part.S1, "the gradient sum S1");
        switch (Kind)
        {
            case OptimizerKind.BsiAdam or OptimizerKind.Adam or OptimizerKind.MicroAdam:
                ReadOnlySpan<T> s2 = part.S2 is { } squares ? HostSpan.Of<T>(squares, "the squared-gradient sum S2") : [];
                FusedAdamKernel.Step(w, HostSpan.Of<T>(part.M, "m"), HostSpan.Of<T>(part.V, "v"), s1, s2, Coefficients(plan), MaxThreads);
                break;
            case OptimizerKind.AdaGrad:
                FusedAdaGradKernel.Step(w, HostSpan.Of<T>(part.V, "the AdaGrad accumulator"), s1, plan.Kappa, plan.Effective, MaxThreads);
                break;
            case OptimizerKind.AdaGradNorm:
                FusedAdaGradKernel.ScaledDescent(w, s1, plan.Effective, AdaGradNormScale(plan), MaxThreads);
                break;
        }
    }

    /// <summary>The step over one range: one fused kernel each on a GPU, or a few tensor operations.</summary>
    private void StepOnDevice(IWholeBufferUpdate device, in Part part, in StepPlan plan)
    {
        switch (Kind)
        {
            case OptimizerKind.BsiAdam or OptimizerKind.Adam or OptimizerKind.MicroAdam:
                device.Adam(part.W, part.M, part.V, part.S1, part.S2, Coefficients(plan));
                break;
            case OptimizerKind.AdaGrad:
                device.AdaGrad(part.W, part.V, part.S1, plan.Kappa, plan.Effective);
                break;
            case OptimizerKind.AdaGradNorm:
                device.ScaledDescent(part.W, part.S1, plan.Effective, AdaGradNormScale(plan));
                break;
        }
    }

    private AdamStepCoefficients Coefficients(in StepPlan plan) =>
        AdamStepCoefficients.For(plan.Effective, plan.Kappa, plan.C1, plan.C2,
            Kind == OptimizerKind.BsiAdam ? SecondMomentSource.MeanOfSquares : SecondMomentSource.SquareOfMean);

    /// <summary>η/(b·κ) with b = √(b²) + ε (or √(b² + ε)): the factor on S1 = κ·ḡ in AdaGrad-Norm's step.</summary>
    private static double AdaGradNormScale(in StepPlan plan)
    {
        AdamHyperparameters effective = plan.Effective;
        double b = effective.EpsilonInsideSqrt
            ? Math.Sqrt(plan.SquaredNormSum + effective.Epsilon)
            : Math.Sqrt(plan.SquaredNormSum) + effective.Epsilon;
        return effective.LearningRate / (b * plan.Kappa);
    }

    private void RequireLike(torch.Tensor buffer, string name)
    {
        if (buffer.dtype != Weights.dtype || buffer.device_type != Weights.device_type || buffer.device_index != Weights.device_index || buffer.numel() != Weights.numel())
            throw new ArgumentException(
                $"{name} is {buffer.dtype} on {buffer.device} with {buffer.numel()} elements; the weights are {Weights.dtype} on {Weights.device} with {Weights.numel()}");
    }

    public void Dispose() => State.Dispose();
}

/// <summary>
/// The scalars of one optimizer step, fixed before its kernels run (<see cref="FlatOptimizer.Plan"/>): κ, the effective
/// hyperparameters, the bias-correction products c1 and c2 after the step, and AdaGrad-Norm's b².
/// </summary>
public readonly record struct StepPlan(int Kappa, AdamHyperparameters Effective, double C1, double C2, double SquaredNormSum);
