namespace HpcAdam.Trainer.Probe;

/// <summary>
/// What <c>hpcadam invariance-probe</c> runs. Hyperparameters are given at the largest κ, as in
/// the paper's §5 (γ1' = 0.1·κ/κ_max, γ2' = 0.001·κ/κ_max): a base learning rate η0 is the
/// learning rate of a step of κ_max micro-batches.
/// </summary>
internal sealed record ProbeSettings(
    string Data,
    string DataDirectory,
    IReadOnlyList<int> Hidden,
    int MicroBatchSize,
    int MicroBatches,
    int WarmupMicroBatches,
    IReadOnlyList<int> Kappas,
    IReadOnlyList<double> LearningRates,
    double Gamma1,
    double Gamma2,
    double Threshold,
    long Seed)
{
    public int MaxKappa => Kappas.Max();

    /// <summary>The first value that cannot work, as a one-line message; null when all can.</summary>
    public string? Problem()
    {
        if (MicroBatchSize < 1)
            return $"--micro-batch-size {MicroBatchSize} must be at least 1";
        if (Kappas.Count == 0 || Kappas.Any(kappa => kappa < 1))
            return "--kappas must list micro-batches per step, each at least 1 (e.g. 1,2,4,8)";
        if (MicroBatches < 1 || Kappas.FirstOrDefault(kappa => MicroBatches % kappa != 0) is var odd && odd != 0)
            return $"--micro-batches {MicroBatches} must be a positive multiple of every κ in --kappas, so every run sees the same micro-batches";
        if (WarmupMicroBatches < 0)
            return $"--warmup {WarmupMicroBatches} must be 0 or more";
        if (LearningRates.Count == 0 || LearningRates.Any(rate => !(rate > 0) || double.IsInfinity(rate)))
            return "--lrs must list positive base learning rates (e.g. 1e-4,1e-3,1e-2)";
        if (!(Threshold > 0))
            return $"--threshold {Threshold} must be positive";
        if (Hidden.Any(width => width < 1))
            return "--hidden widths must each be at least 1";
        return null;
    }
}
