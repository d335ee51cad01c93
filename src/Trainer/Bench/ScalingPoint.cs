namespace HpcAdam.Trainer.Bench;

/// <summary>
/// How κ follows the rank count P in `hpcadam bench scaling`: strong scaling keeps κ, and so the global
/// batch, fixed (<paramref name="MicroBatches"/> = κ); weak scaling keeps each rank's share fixed
/// (<paramref name="MicroBatches"/> per rank, κ = P·k).
/// </summary>
internal sealed record ScalingMode(string Name, int MicroBatches)
{
    public const string Strong = "strong", Weak = "weak";
    public static readonly string[] Names = [Strong, Weak];

    public int KappaAt(int ranks) => Name == Strong ? MicroBatches : ranks * MicroBatches;
}

/// <summary>
/// One point of a scaling curve, measured or predicted: P ranks taking κ micro-batches of M samples a
/// step, the step's milliseconds by phase and whole (a measured step's median, not the sum of its
/// phases' medians), and the bytes its all-reduce sums.
/// </summary>
internal sealed record ScalingPoint(string Mode, int Ranks, int Kappa, int MicroBatchSize, PhaseTimes Ms, double StepMs, double BytesPerStep)
{
    public double SamplesPerSecond => 1000.0 * Kappa * MicroBatchSize / StepMs;

    /// <summary>
    /// Samples per second per rank, over the baseline's: 1 is perfect scaling. Against one rank that is
    /// T(1)/(P·T(P)) in strong scaling and T(1)/T(P) in weak scaling.
    /// </summary>
    public double EfficiencyAgainst(ScalingPoint baseline) => SamplesPerSecond / Ranks / (baseline.SamplesPerSecond / baseline.Ranks);

    public Dictionary<string, object?> ToJson(double efficiency) => new()
    {
        ["mode"] = Mode, ["ranks"] = Ranks, ["kappa"] = Kappa, ["samples_per_s"] = SamplesPerSecond, ["ms"] = Ms.ToJson(StepMs),
        ["allreduce_bytes_per_step"] = BytesPerStep, ["efficiency"] = efficiency,
    };
}
