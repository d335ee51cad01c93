using System.Globalization;
using HpcAdam.Optim;

namespace HpcAdam.Training;

/// <summary>
/// Everything a run reports, in one place so the training loop only says when: on rank 0 the run
/// folder's metrics.jsonl lines (<see cref="RunFolder"/>), TensorBoard scalars with Run:TensorBoard,
/// and the progress lines on stdout; nothing on the other ranks.
/// </summary>
internal sealed class RunLog : IDisposable
{
    private readonly RunFolder? _folder;
    private readonly TensorBoardScalars? _tensorBoard;
    private readonly ProgressReporter? _progress;
    private readonly bool _adam;

    public RunLog(int rank, DataParallelTrainer trainer, ResumePoint? resumed, bool adaptiveLength)
    {
        TrainingSettings settings = trainer.Settings;
        _adam = OptimizerNames.Parse(settings.Optimizer.Name).IsAdam();
        if (rank != 0)
            return;
        _folder = new RunFolder(trainer.RunDirectory, trainer.ResolvedConfigurationJson, settings.Trace.Samples, resumed?.Step);
        _tensorBoard = settings.Run.TensorBoard ? new TensorBoardScalars(Path.Combine(trainer.RunDirectory, TensorBoardFolder)) : null;
        _progress = new ProgressReporter(adaptiveLength ? null : trainer.TotalSteps, Console.Out);
    }

    public const string TensorBoardFolder = "tensorboard";

    public RunFolder? Folder => _folder;

    /// <summary>The start (or resume) line: the world, the model's size, the run's length, and rank 0's libtorch threads.</summary>
    public void Start(int worldSize, long parameters, long totalSteps, string communicator, int threads, ResumePoint? resumed)
    {
        _folder?.Metrics(new JsonLine().Add("event", resumed is null ? "start" : "resume").Add("world_size", worldSize)
            .Add("parameters", parameters).Add("steps", totalSteps).Add("communicator", communicator).Add("threads", threads)
            .Add("from_step", resumed?.Step ?? 0));
        if (resumed is not null)
            Note($"resumed from {resumed.Folder} at step {resumed.Step} on {worldSize} rank(s)");
    }

    /// <summary>A step's line of metrics.jsonl (and its κ change) and its TensorBoard scalars.</summary>
    public void Step(long step, StepReport report, RunCounters counters, StepTimings timings)
    {
        if (_folder is null)
            return;
        (int kappa, int microBatchSize, AdamHyperparameters used, double lrFactor, double? clipScale, double loss, GradientStatistics statistics,
            double? noiseScale, TestVerdict verdict, float[] peakMiB) = report;
        _folder.Metrics(new JsonLine().Add("event", "step").Add("step", step).Add("samples", counters.Samples).Add("kappa", kappa)
            .Add("batch_size", (long)kappa * microBatchSize).Add("lr", used.LearningRate).Add("lr_factor", lrFactor)
            .Add("gamma1", _adam ? used.Gamma1 : null).Add("gamma2", _adam ? used.Gamma2 : null)
            .Add("loss", loss).Add("grad_norm", statistics.GradNorm).Add("clip_scale", clipScale).Add("grad_var", statistics.Variance)
            .Add("grad_sq_norm", statistics.TrueSquaredNorm).Add("trace_sigma", statistics.TraceSigma)
            .Add("noise_scale", noiseScale).Add("noise_scale_raw", statistics.NoiseScale)
            .Add("test_kappa", verdict.RequestedKappa).Add("inner_product_kappa", verdict.InnerProductKappa)
            .Add("orthogonality_kappa", verdict.OrthogonalityKappa).Add("skipped", counters.Skipped)
            .Add("compute_ms", timings.Last.Compute).Add("comm_ms", timings.Last.Communication).Add("optim_ms", timings.Last.Optimizer)
            .Add("stats_ms", timings.Last.Statistics).Add("peak_rss_mib", peakMiB.Max()));
        if (verdict.Change is { } change)
            _folder.Metrics(new JsonLine().Add("event", "kappa_change").Add("step", change.Step).Add("old", change.Old).Add("new", change.New)
                .Add("test", change.Test).Add("statistic", change.Statistic));
        _tensorBoard?.Add(step, [("loss", loss), ("lr", used.LearningRate), ("lr_factor", lrFactor), ("kappa", kappa), ("noise_scale", noiseScale),
            ("clip_scale", clipScale)]);
    }

    /// <summary>The progress line (or bar) after a step that left <paramref name="done"/> of the run behind.</summary>
    public void Progress(long step, double done, bool last, StepReport report, RunCounters counters, StepTimings timings)
    {
        double throughput = (counters.Samples - counters.SamplesBefore) / timings.TrainingSeconds;
        _progress?.Report(step, done, last, report.Loss, throughput, timings.TrainingSeconds * (1 - done) / done, PeakText(report.PeakResidentMiB));
    }

    public void Evaluation(long step, long samples, IReadOnlyDictionary<string, double> metrics)
    {
        if (_folder is null)
            return;
        var line = new JsonLine().Add("event", "eval").Add("step", step).Add("samples", samples);
        foreach ((string name, double value) in metrics)
            line.Add(name, value);
        _folder.Metrics(line);
        _tensorBoard?.Add(step, metrics.Select(metric => (metric.Key, (double?)metric.Value)));
        Note($"step {step}: {string.Join(", ", metrics.Select(metric => string.Create(CultureInfo.InvariantCulture, $"{metric.Key} {metric.Value:0.0000}")))}");
    }

    /// <summary>A line that must not be drawn over: a checkpoint, an evaluation, a stop.</summary>
    public void Note(string line) => _progress?.Note(line);

    public void Summary(IReadOnlyDictionary<string, object?> summary) => _folder?.Summary(summary);

    public void MarkPreempted(string reason) => _folder?.MarkPreempted(reason);

    /// <summary>The largest peak resident memory of the ranks, and whose: how many ranks fit in a node's memory.</summary>
    public static string PeakText(float[] peakMiB)
    {
        int rank = Array.IndexOf(peakMiB, peakMiB.Max());
        return string.Create(CultureInfo.InvariantCulture, $"peak rss {peakMiB[rank] / 1024:0.00} GiB (rank {rank} of {peakMiB.Length})");
    }

    public void Dispose()
    {
        _folder?.Dispose();
    }
}

/// <summary>
/// What a step reports beyond the counters: its κ and micro-batch size, the hyperparameters it used and the schedule's
/// factor in their η', the clipping scale (null when off or skipped), its mean loss, statistics, test verdict and each rank's peak memory.
/// </summary>
internal sealed record StepReport(int Kappa, int MicroBatchSize, AdamHyperparameters Used, double LrFactor, double? ClipScale, double Loss,
    GradientStatistics Statistics, double? NoiseScale, TestVerdict Verdict, float[] PeakResidentMiB);
