using HpcAdam.Collectives;
using HpcAdam.Optim;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// One <see cref="DataParallelTrainer.Train"/> call on one rank: the replica of the model, the
/// optimizer, the batch-size controller and the step's buffer, then the loop. <see cref="Execute"/>
/// is the step as the paper gives it; bookkeeping lives in <see cref="RunLog"/>, <see cref="StepTimings"/>,
/// <see cref="RunCounters"/>, <see cref="FaultInjection"/> and the helpers below the loop.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private readonly ICommunicator _communicator;
    private readonly DataParallelTrainer _trainer;
    private readonly TrainingSettings _settings;
    private readonly ModelReplica _replica;
    private readonly FlatOptimizer _optimizer;
    private readonly BatchSizeController _controller;
    private readonly MicroBatchStream _stream;
    private readonly MicroBatchFeed _feed;
    private readonly StepBuffer _buffer;
    private readonly StopSignals _signals = new();
    private readonly CollectiveWatchdog _watchdog;
    private readonly FaultInjection _faults;
    private readonly StepTimings _clock;
    private readonly bool _updateAsBucketsArrive;
    private RunFolderLock? _folderLock;
    private RunLog? _log;

    /// <summary>The run on <paramref name="device"/>, where the model moves and the step's tensors live.</summary>
    public TrainingRun(ICommunicator communicator, DataParallelTrainer trainer, Device device)
    {
        (_communicator, _trainer, _settings) = (communicator, trainer, trainer.Settings);
        // The ranks on a node share its cores: each takes its share rather than all of them, which would oversubscribe them P times.
        if (Environment.GetEnvironmentVariable("OMP_NUM_THREADS") is null)
            set_num_threads(Math.Max(1, Environment.ProcessorCount / communicator.LocalSize));
        trainer.Model.to(device);
        _replica = new ModelReplica(trainer.Model, trainer.Forward, trainer.Loss, trainer.Precision);
        OptimizerSettings optimizer = _settings.Optimizer;
        int firstKappa = _settings.Batch.Kappa;
        _optimizer = new FlatOptimizer(_replica.Parameters.Weights, OptimizerNames.Parse(optimizer.Name), SettingsValidation.Hyperparameters(optimizer),
            SettingsValidation.Scaling(optimizer.Scaling), optimizer.ReferenceKappa == 0 ? firstKappa : optimizer.ReferenceKappa);
        _controller = new BatchSizeController(_settings.Adaptive, firstKappa, trainer.MaxKappa, _replica.Parameters.Weights);
        _stream = new MicroBatchStream(trainer.Data.Count, _settings.Batch.MicroBatchSize, _settings.Train.Seed);
        if (trainer.Data is IDevicePlacement placement)
            placement.PlaceOn(device);
        _feed = new MicroBatchFeed(trainer.Data, device, _settings.Train.Prefetch);
        _buffer = new StepBuffer(_replica.Parameters.Count, _replica.Buffers.Count, communicator.Rank, communicator.Size, device,
            ComputePrecision.Parse("Collectives:SquaresPrecision", _settings.Collectives.SquaresPrecision),
            bucketElements: (long)Math.Ceiling(_settings.Collectives.BucketMiB * (1 << 20) / sizeof(float)));
        // Clipping needs the norm of the whole of S1 before any weight moves, as AdaGrad-Norm's b² does.
        _updateAsBucketsArrive = _buffer.BucketCount > 1 && _optimizer.StepsInParts && _settings.Optimizer.ClipNorm == 0;
        _watchdog = new CollectiveWatchdog(communicator.Rank, _settings.Check.TimeoutSeconds, () => _signals.Received is not null);
        _faults = FaultInjection.FromEnvironment(communicator.Rank);
        _clock = new StepTimings(device);
    }

    public TrainingResult Execute()
    {
        ResumePoint? resumed = Start();
        FlatParameters parameters = _replica.Parameters;
        var counters = new RunCounters(resumed);
        int microBatchSize = _settings.Batch.MicroBatchSize;
        // AdAdaGrad's practice: η' and γ' stay those of the first κ while κ grows.
        int? heldKappa = _settings.Adaptive.HoldHyperparameters ? _settings.Batch.Kappa : null;
        IReadOnlyDictionary<string, double> metrics = new Dictionary<string, double>();
        _feed.Plan(ThisRanksMicroBatches(counters.MicroBatchesConsumed, _controller.Kappa));
        for (long step = counters.FirstStep; ; step++)
        {
            int kappa = _controller.Kappa;
            _faults.BeforeStep(step, _signals);
            _clock.StartStep();

            // Draw: this step is micro-batches [cursor, cursor + κ) of the global stream; this rank takes k ≡ rank (mod P),
            // planned at the end of the step before. Each is forward and backward from the step's starting weights and
            // buffers, accumulated as S1 += g, S2 += g⊙g (each weighed by its loss units where the source gives them).
            _buffer.Clear();
            for (int k = _communicator.Rank; k < kappa; k += _communicator.Size)
            {
                using (MicroBatch microBatch = _feed.Take())
                    _replica.AddMicroBatch(_buffer, microBatch, k, kappa);
                if (_controller.Direction is { Known: true } direction)
                    _buffer.AddProjection(direction.Project(parameters.Gradients));
            }
            _faults.AfterMicroBatches(step, _buffer);

            // The one all-reduce of [S1 | buffer changes | scalars | S2] (S2 in Collectives:SquaresPrecision): from here every rank reads
            // the same sums. In buckets (Collectives:BucketMiB), the scalars come first, so every rank knows at once whether the step is
            // skipped (a non-finite value on any rank skips it on all), then S1 and S2 bucket by bucket: the statistics' sums take each
            // as it arrives and, where nothing needs the whole of S1 first, the optimizer updates its weights while the next is in flight.
            double lrFactor = _trainer.Schedule.Factor(counters.MicroBatchesConsumed, kappa, microBatchSize);
            StepPlan plan = _optimizer.Plan(kappa, heldKappa, lrFactor);
            var sums = new GradientSums(_buffer.S1, _buffer.S2);
            _clock.Enter(StepPhase.Communication);
            using (_watchdog.Watch("all-reduce", step))
                foreach (ParameterRange bucket in _buffer.ReduceInBuckets(_communicator, _signals.Received is not null))
                {
                    _clock.Enter(StepPhase.Statistics);
                    sums.Add(bucket.Offset, bucket.Count);
                    if (_updateAsBucketsArrive && !_buffer.AnyNonFinite)
                    {
                        _clock.Enter(StepPhase.Optimizer);
                        _optimizer.StepPart(plan, _buffer.S1, _buffer.S2, bucket.Offset, bucket.Count);
                    }
                    _clock.Enter(StepPhase.Communication);
                }

            // Statistics of the sums as the data gave them (before clipping): the gradient noise scale and the batch-size test,
            // with no more communication.
            _clock.Enter(StepPhase.Statistics);
            bool skipped = _buffer.AnyNonFinite;
            GradientStatistics statistics = sums.Measure(kappa, microBatchSize);
            TestVerdict verdict = skipped ? TestVerdict.Untested : _controller.AfterStep(step, statistics, _buffer);

            // The optimizer, identical on every rank, where the buckets have not run it: the sums clipped to Optimizer:ClipNorm by
            // the norm just measured, and η at the place of this step's micro-batches in the schedule.
            _clock.Enter(StepPhase.Optimizer);
            double? clipScale = skipped ? null : GradientClipping.Apply(_buffer.S1, _buffer.S2, statistics.GradNorm, _settings.Optimizer.ClipNorm);
            AdamHyperparameters used = skipped ? plan.Effective
                : _updateAsBucketsArrive ? _optimizer.Commit(plan)
                : _optimizer.Step(_buffer.S1, _buffer.S2, kappa, heldKappa, lrFactor);
            _replica.EndStep(_buffer, skipped);
            _faults.AfterOptimizer(step, parameters);
            _clock.Enter(StepPhase.Other);

            // Log, check, evaluate, checkpoint; then the last step ends the run, a signal stops it.
            counters.Count(_buffer, kappa);
            bool last = _trainer.EndsAfter(step, counters.MicroBatchesConsumed, _controller.Kappa), stopping = _buffer.AnyStopRequested;
            // The next step's micro-batches are gathered (Train:Prefetch) while this one reports, evaluates and checkpoints.
            if (!last && !stopping)
                _feed.Plan(ThisRanksMicroBatches(counters.MicroBatchesConsumed, _controller.Kappa));
            Report(step, counters, last, new StepReport(kappa, microBatchSize, used, lrFactor, clipScale, _buffer.MeanLoss, statistics,
                _controller.Noise.Value, verdict, _buffer.PeakResidentMiB));
            if (last || Due(_settings.Eval.Every, step))
                metrics = Evaluate(step, counters.Samples);
            if (last || stopping || Due(_settings.Checkpoint.Every, step))
                Checkpoint(step, kappa, counters);
            if (last || stopping)
                return Finish(step, counters, metrics, stopped: !last);
        }
    }

    /// <summary>
    /// Before the first step: every rank has the same settings and rank 0's weights and buffers, rank 0
    /// holds the run folder, and a resumed run has the checkpoint's state on every rank.
    /// </summary>
    private ResumePoint? Start()
    {
        FlatParameters parameters = _replica.Parameters;
        if (RankAgreement.Configuration(_communicator, _trainer.ConfigurationSha256, parameters.Count) is { } disagreement)
            throw new TrainingException(disagreement);
        _replica.TakeRankZeros(_communicator);
        RequireAgreement(withOptimizer: false, "after the broadcast of the initial weights");
        // One job per run folder: refused here, before this job reads a checkpoint or writes a byte.
        _folderLock = RunFolderLock.TakeOnRankZero(_communicator, _trainer.RunDirectory, "Run:Dir", _settings.Run.Lock,
            () => RunFolder.Problem(_trainer.RunDirectory, resuming: _trainer.Resume is not null), out string? refusal);
        if (refusal is not null)
            throw new TrainingException(refusal, ExitCodes.FolderBusy);
        if (_folderLock is not null)
            CheckpointWriter.RemoveLeftovers(_trainer.RunDirectory);

        ResumePoint? resumed;
        try
        {
            resumed = Resumption.Restore(_communicator, _trainer.Resume, _trainer.RunDirectory, _settings, _trainer.Model, parameters, _optimizer.State, _controller);
            parameters.RoundLowWeights();
            _replica.Buffers.Remember();
        }
        catch (CheckpointException error)
        {
            throw new TrainingException(error.Message);
        }
        if (resumed is not null && _trainer.EndsAfter(resumed.Step, resumed.MicroBatchesConsumed, _controller.Kappa))
            throw new TrainingException($"{resumed.Folder} is at step {resumed.Step}, where this run ends: raise Train:Steps or Train:Epochs to go on");

        _log = new RunLog(_communicator.Rank, _trainer, resumed, adaptiveLength: _controller.Test != SamplingTest.None && _trainer.MicroBatchBudget != long.MaxValue);
        if (_settings.Trace.Samples && resumed is null)
            _log.Folder?.InitialWeights(_trainer.Model, parameters);
        _log.Start(_communicator.Size, parameters.Count, _trainer.TotalSteps, _communicator.Description, get_num_threads(), resumed);
        return resumed;
    }

    /// <summary>The sample indices of the micro-batches k ≡ rank (mod P) of the step of κ that starts at micro-batch <paramref name="first"/>.</summary>
    private IEnumerable<long[]> ThisRanksMicroBatches(long first, int kappa)
    {
        for (int k = _communicator.Rank; k < kappa; k += _communicator.Size)
            yield return _stream.Indices(first + k);
    }

    private static bool Due(int every, long step) => every > 0 && step % every == 0;

    /// <summary>The step's bookkeeping: its metrics and progress, Trace:Samples and Trace:Model, Train:MaxSkips and Check:Every.</summary>
    private void Report(long step, RunCounters counters, bool last, StepReport report)
    {
        long firstMicroBatch = counters.MicroBatchesConsumed - report.Kappa;
        _log!.Folder?.Samples(step, Enumerable.Range(0, report.Kappa).Select(k => _stream.Indices(firstMicroBatch + k)));
        if (_settings.Trace.Model)
        {
            string trace = Directory.CreateDirectory(Path.Combine(_trainer.RunDirectory, TraceFolder)).FullName;
            ModelWeightsFile.Save(Path.Combine(trace, FormattableString.Invariant($"model.rank-{_communicator.Rank}.step-{step:D8}.safetensors")),
                _trainer.Model, _replica.Parameters);
        }
        _log.Step(step, report, counters, _clock);
        _clock.StepDone(_buffer.TotalSamples);
        _log.Progress(step, _trainer.Done(step, counters.MicroBatchesConsumed), last, report, counters, _clock);
        if (counters.SkippedInARow >= _settings.Train.MaxSkips)
            throw new DivergedException($"{counters.SkippedInARow} steps in a row, up to step {step}, had a non-finite loss or gradient on some rank " +
                                        "(Train:MaxSkips): lower Optimizer:Lr, or check the data and the model");
        if (Due(_settings.Check.Every, step))
            RequireAgreement(withOptimizer: true, $"at step {step} (Check:Every)");
    }

    /// <summary>With Trace:Model, the folder of the run where every rank writes its weights and buffers after every step.</summary>
    public const string TraceFolder = "trace";

    /// <summary>The user's metric, with the model in eval mode and gradients off; none without an <see cref="DataParallelTrainer.Evaluate"/>.</summary>
    private IReadOnlyDictionary<string, double> Evaluate(long step, long samples)
    {
        if (_trainer.Evaluate is not { } evaluate)
            return new Dictionary<string, double>();
        IReadOnlyDictionary<string, double> metrics;
        _trainer.Model.eval();
        using (no_grad())
            metrics = evaluate(_trainer, _communicator, _settings.Eval);
        _trainer.Model.train();
        _log!.Evaluation(step, samples, metrics);
        return metrics;
    }

    private void Checkpoint(long step, int kappa, RunCounters counters)
    {
        var state = new CheckpointState(step, counters.Samples, counters.MicroBatchesConsumed, kappa, _controller.Kappa, _settings.Batch.MicroBatchSize,
            _communicator.Size, _settings.Optimizer.Name, _settings.Train.Seed, counters.Skipped, _optimizer.State.C1, _optimizer.State.C2,
            _controller.Noise.Numerator, _controller.Noise.Denominator, _trainer.ConfigurationSha256, RandomState());
        if (CheckpointWriter.SaveOnRankZero(_communicator, _log!, _trainer, _replica.Parameters, _optimizer.State, _controller.Direction, state) is { } failure)
            throw new TrainingException(failure, ExitCodes.CheckpointFailed);
    }

    /// <summary>torch's generator state, for checkpoints: nothing random runs after initialisation in the built-in models, but dropout would.</summary>
    private static string RandomState()
    {
        using Tensor state = get_rng_state();
        return Convert.ToBase64String(state.bytes);
    }

    private TrainingResult Finish(long step, RunCounters counters, IReadOnlyDictionary<string, double> metrics, bool stopped)
    {
        double throughput = (counters.Samples - counters.SamplesBefore) / _clock.TrainingSeconds;
        SteadyState? steady = _clock.Steady();
        var result = new TrainingResult(step, counters.Samples, _controller.Kappa, counters.Skipped, metrics, throughput, stopped, _trainer.RunDirectory)
        {
            Steady = steady,
            AllReduceBytesPerStep = _buffer.AllReduceBytes,
        };
        if (stopped)
        {
            string reason = $"stopped after step {step} on {_signals.Received ?? "another rank's signal"}";
            _log!.MarkPreempted(reason);
            _log.Note($"{reason}; go on with --Run:Resume=latest --Run:Dir={_trainer.RunDirectory} (and the same settings)");
            return result;
        }
        // Every rank applied the same updates to the same weights; prove it once per run.
        RequireAgreement(withOptimizer: true, $"at the end of step {step}");
        float[] peakMiB = new float[_communicator.Size];
        _communicator.AllGather<float>([(float)ResidentMemory.PeakMiB()], peakMiB);
        var summary = new Dictionary<string, object?>
        {
            ["steps"] = step, ["samples"] = counters.Samples, ["mean_batch_size"] = (double)counters.Samples / step,
            ["final_kappa"] = _controller.Kappa, ["world_size"] = _communicator.Size, ["skipped"] = counters.Skipped,
            ["allreduce_bytes_per_step"] = _buffer.AllReduceBytes, ["allreduce_buckets"] = _buffer.BucketCount,
        };
        foreach ((string name, double value) in metrics)
            summary[name] = value;
        summary["throughput_samples_per_s"] = throughput;
        summary["wall_s"] = _clock.WallSeconds;
        summary["step_ms"] = _clock.Mean().ToJson();
        if (steady is not null)
            summary["steady_state"] = new Dictionary<string, object>
            {
                ["steps"] = steady.Steps, ["samples_per_s"] = steady.SamplesPerSecond, ["step_ms"] = steady.MedianMs.ToJson(total: steady.MedianStepMs),
            };
        summary["peak_rss_mib"] = peakMiB.Select(mib => Math.Round(mib, 1)).ToArray();
        _log!.Summary(summary);
        _log.Note(RunLog.PeakText(peakMiB));
        return result;
    }

    /// <summary>Every rank must hold rank 0's weights and buffers (and optimizer state); a rank that does not is named.</summary>
    private void RequireAgreement(bool withOptimizer, string when)
    {
        IEnumerable<Tensor> state = withOptimizer ? [.. _trainer.Model.buffers(), _optimizer.State.M, _optimizer.State.V] : _trainer.Model.buffers();
        if (RankAgreement.Model(_communicator, _replica.Parameters.Weights, state, when) is { } divergence)
            throw new InvalidOperationException(divergence);
    }

    public void Dispose()
    {
        _log?.Dispose();
        _clock.Dispose();
        _folderLock?.Dispose();
        _watchdog.Dispose();
        _signals.Dispose();
        _feed.Dispose();
        _buffer.Dispose();
        _controller.Dispose();
        _optimizer.Dispose();
        _replica.Dispose();
    }
}

/// <summary>
/// The run's counters, which checkpoints save and a resume restores: samples and micro-batches
/// consumed (the stream's cursor), skipped steps; and where this start began, since its throughput
/// counts its own steps only.
/// </summary>
internal sealed class RunCounters(ResumePoint? resumed)
{
    public long FirstStep { get; } = (resumed?.Step ?? 0) + 1;
    public long SamplesBefore { get; } = resumed?.Samples ?? 0;
    public long Samples { get; private set; } = resumed?.Samples ?? 0;
    public long MicroBatchesConsumed { get; private set; } = resumed?.MicroBatchesConsumed ?? 0;
    public long Skipped { get; private set; } = resumed?.Skipped ?? 0;
    public long SkippedInARow { get; private set; }

    public void Count(StepBuffer buffer, int kappa)
    {
        Samples += buffer.TotalSamples;
        MicroBatchesConsumed += kappa;
        Skipped += buffer.AnyNonFinite ? 1 : 0;
        SkippedInARow = buffer.AnyNonFinite ? SkippedInARow + 1 : 0;
    }
}
