namespace HpcAdam.Optim;

/// <summary>The shape of a <see cref="LearningRateSchedule"/> after its warm-up.</summary>
public enum ScheduleKind
{
    /// <summary>f = 1.</summary>
    Constant,

    /// <summary>Half a cosine from 1 down to the end factor (SGDR, Loshchilov and Hutter 2017; timm, nanoGPT).</summary>
    Cosine,

    /// <summary>A straight line from 1 down to the end factor (PyTorch's LinearLR).</summary>
    Linear,

    /// <summary>Times the step factor every step's worth of samples (PyTorch's StepLR).</summary>
    Step,
}

/// <summary>
/// η as a function of the samples seen, not of the optimizer steps, so that runs at any κ, and a run
/// whose κ changes, give every sample of the global stream the same η (docs/ALGORITHMS.md,
/// "Learning-rate schedules"). At sample x of the stream, η(x) = η·f(x) with
/// <code>
/// warm(x) = min(1, x/W)                                  linear warm-up over W samples (none for W = 0)
/// p(x)    = clamp((x − W)/(H − W), 0, 1)                 progress of the decay, from the warm-up's end to the horizon H
/// constant  f = warm
/// cosine    f = warm·(r + (1 − r)·(1 + cos πp)/2)        r = the end factor
/// linear    f = warm·(1 − (1 − r)·p)
/// step      f = warm·γ^⌊x/S⌋                             γ = the step factor, S = the step's samples
/// </code>
/// Micro-batch j, samples [jM, (j + 1)M), takes f at its centre; a step of κ micro-batches takes their
/// mean (<see cref="Factor"/>), so its η' = η·(κ/κ_ref)·f̄ is the sum of the η's of the κ Micro-Adam
/// steps it stands for, which is what Theorem 1 needs. The schedule multiplies η alone; γ1 and γ2 are
/// not scheduled. Every value lies in [0, 1], so the weight decay's check at f = 1 covers every step.
/// </summary>
/// <param name="Kind">The shape after the warm-up.</param>
/// <param name="WarmupSamples">W, samples of the linear warm-up from 0 to η; 0 for none.</param>
/// <param name="ScheduleSamples">H, the sample at which cosine and linear reach r·η; unused by constant and step.</param>
/// <param name="LrEndFactor">r, η's factor at and after H (cosine and linear).</param>
/// <param name="StepSamples">S, samples between the step schedule's drops.</param>
/// <param name="StepFactor">γ, the step schedule's factor per drop.</param>
public sealed record LearningRateSchedule(
    ScheduleKind Kind,
    long WarmupSamples = 0,
    long ScheduleSamples = 0,
    double LrEndFactor = 0,
    long StepSamples = 0,
    double StepFactor = 0.1)
{
    /// <summary>Throws <see cref="HyperparameterException"/> naming the first value that cannot work.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
            throw new InvalidOperationException($"{Kind} is not a schedule");
        if (WarmupSamples < 0)
            throw AdamHyperparameters.Invalid(nameof(WarmupSamples), WarmupSamples, "must be 0 (no warm-up) or more");
        if (!(LrEndFactor >= 0 && LrEndFactor <= 1))
            throw AdamHyperparameters.Invalid(nameof(LrEndFactor), LrEndFactor, "must lie in [0, 1] (η at the end of the schedule, as a fraction of η)");
        if (Kind is ScheduleKind.Cosine or ScheduleKind.Linear && ScheduleSamples <= WarmupSamples)
            throw AdamHyperparameters.Invalid(nameof(ScheduleSamples), ScheduleSamples,
                $"must be above the warm-up's {WarmupSamples} samples: the {Kind.ToString().ToLowerInvariant()} decay runs from the warm-up's end to this sample");
        if (Kind == ScheduleKind.Step && StepSamples < 1)
            throw AdamHyperparameters.Invalid(nameof(StepSamples), StepSamples, "must be at least 1 with the step schedule (samples between drops of η)");
        if (Kind == ScheduleKind.Step && !(StepFactor > 0 && StepFactor <= 1))
            throw AdamHyperparameters.Invalid(nameof(StepFactor), StepFactor, "must lie in (0, 1] (η's factor at each drop)");
    }

    /// <summary>f(x): η's factor at sample <paramref name="sample"/> of the stream.</summary>
    public double FactorAt(double sample)
    {
        double warm = WarmupSamples > 0 ? Math.Min(1, sample / WarmupSamples) : 1;
        return warm * Kind switch
        {
            ScheduleKind.Constant => 1,
            ScheduleKind.Cosine => LrEndFactor + (1 - LrEndFactor) * (1 + Math.Cos(Math.PI * Progress(sample))) / 2,
            ScheduleKind.Linear => 1 - (1 - LrEndFactor) * Progress(sample),
            ScheduleKind.Step => Math.Pow(StepFactor, Math.Floor(sample / StepSamples)),
            _ => throw new InvalidOperationException($"{Kind} is not a schedule"),
        };
    }

    /// <summary>
    /// f̄, η's factor for the step of <paramref name="kappa"/> micro-batches of <paramref name="microBatchSize"/>
    /// samples from micro-batch <paramref name="firstMicroBatch"/> of the stream on: the mean of f at their centres.
    /// </summary>
    public double Factor(long firstMicroBatch, int kappa, int microBatchSize)
    {
        double sum = 0;
        for (int k = 0; k < kappa; k++)
            sum += FactorAt((firstMicroBatch + k + 0.5) * microBatchSize);
        return sum / kappa;
    }

    private double Progress(double sample) => Math.Clamp((sample - WarmupSamples) / (ScheduleSamples - WarmupSamples), 0, 1);
}
