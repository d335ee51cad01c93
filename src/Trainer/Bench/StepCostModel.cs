namespace HpcAdam.Trainer.Bench;

/// <summary>
/// What the cost model takes from a run on one rank: the compute per micro-batch (the run's compute
/// phase over its κ), the milliseconds every rank spends once a step whatever P (the communication
/// phase's own work on one rank, where nothing crosses a network: checking the buffer and reading its
/// scalars; optimizer; statistics; other), the model's parameter count and the bytes its step's
/// all-reduce sums with float32 squares.
/// </summary>
internal sealed record StepCalibration(string Model, int MicroBatchSize, double ComputeMsPerMicroBatch, double CommunicationMs, double OptimizerMs,
    double StatisticsMs, double OtherMs, long Parameters, double BytesPerStep)
{
    public static StepCalibration FromOneRank(string model, long parameters, ScalingPoint point) =>
        new(model, point.MicroBatchSize, point.Ms.Compute / point.Kappa, point.Ms.Communication, point.Ms.Optimizer, point.Ms.Statistics, point.Ms.Other,
            parameters, point.BytesPerStep);

    /// <summary>The step's bytes with S2 in <paramref name="squareBytes"/> bytes a parameter: [S1 | S2] is 8 bytes a parameter with float32 squares, 6 with bfloat16.</summary>
    public double Bytes(int squareBytes) => BytesPerStep - (sizeof(float) - squareBytes) * (double)Parameters;
}

/// <summary>
/// Ranks that all run on one node of <paramref name="Cores"/> cores, each on <paramref name="ThreadsPerRank"/>
/// threads: beyond the cores they take turns, and each rank's own work takes P·threads/cores times as long.
/// </summary>
internal sealed record SharedNode(int Cores, int ThreadsPerRank)
{
    public double Slowdown(int ranks) => Math.Max(1, (double)ranks * ThreadsPerRank / Cores);
}

/// <summary>
/// The step time on P ranks (docs/running.md, "The cost model"):
/// <code>T(P) = s(P)·(⌈κ/P⌉·t_mb + t_comm + t_optim + t_stats + t_other) + 2(P−1)·α + 2(P−1)/P · bytes/β</code>
/// The rank with the most micro-batches, ⌈κ/P⌉, sets the pace (the all-reduce waits for it); every rank
/// runs the whole optimizer and statistics; the all-reduce is <see cref="Interconnect"/>'s ring. s(P) is
/// <see cref="SharedNode.Slowdown"/> where all ranks share one node's cores, else 1: each rank has its own
/// core, socket or GPU, as on a cluster.
/// </summary>
internal sealed record StepCostModel(StepCalibration Calibration, Interconnect Network, int SquareBytes = sizeof(float), SharedNode? Node = null)
{
    public ScalingPoint Predict(string mode, int ranks, int kappa)
    {
        StepCalibration one = Calibration;
        double slowdown = Node?.Slowdown(ranks) ?? 1, bytes = one.Bytes(SquareBytes);
        var ms = new PhaseTimes(
            Compute: slowdown * Math.Ceiling((double)kappa / ranks) * one.ComputeMsPerMicroBatch,
            Communication: slowdown * one.CommunicationMs + 1000 * Network.AllReduceSeconds(ranks, bytes),
            Optimizer: slowdown * one.OptimizerMs, Statistics: slowdown * one.StatisticsMs, Other: slowdown * one.OtherMs);
        return new ScalingPoint(mode, ranks, kappa, one.MicroBatchSize, ms, ms.Total, bytes);
    }
}
