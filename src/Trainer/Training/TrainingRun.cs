using System.Runtime.InteropServices;
using HpcAdam.Collectives;
using HpcAdam.Optim;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// A checked training job: the settings (and the SHA-256 of their JSON as given, which every
/// rank must share), both splits, the model, its length (at most TotalSteps steps, and at most
/// MicroBatchBudget micro-batches), the largest κ an adaptive batch may grow to, the run folder
/// with the configuration rank 0 writes there, and the checkpoint to resume from (<c>--Resume</c>).
/// </summary>
internal sealed record TrainingJob(
    TrainerSettings Settings, string ConfigurationSha256, ImageClassificationSet Train, ImageClassificationSet Test,
    nn.Module<Tensor, Tensor> Model, long TotalSteps, long MicroBatchBudget, int MaxKappa, string RunDirectory,
    string ResolvedConfigurationJson, string? Resume) : IDisposable
{
    /// <summary>Frees the data and the model's native memory now: a sweep prepares one job after another in one process.</summary>
    public void Dispose()
    {
        Train.Dispose();
        Test.Dispose();
        Model.Dispose();
    }

    /// <summary>Whether the run ends after <paramref name="step"/>: its last step, or no room in the budget for a step of <paramref name="nextKappa"/>.</summary>
    public bool EndsAfter(long step, long microBatchesConsumed, int nextKappa) =>
        step >= TotalSteps || microBatchesConsumed + nextKappa > MicroBatchBudget;

    /// <summary>The fraction of the run behind a step: of its steps, or of its budget when κ may grow.</summary>
    public double Done(long step, long microBatchesConsumed) =>
        Math.Max((double)step / TotalSteps, MicroBatchBudget == long.MaxValue ? 0 : (double)microBatchesConsumed / MicroBatchBudget);
}

/// <summary>
/// A run stopped by Train:MaxSkips. Every rank throws it after the same step, because the
/// non-finite flag comes from the step's all-reduce, so no rank is left inside a collective.
/// </summary>
internal sealed class DivergedException(string message) : InvalidOperationException(message);

/// <summary>
/// The training loop (docs/ALGORITHMS.md, "The step"). Step s takes the next κ micro-batches of the
/// global stream; micro-batch k goes to rank k mod P, which adds its gradient to S1 and S2; one
/// all-reduce sums [S1 | S2 | scalars]; every rank applies the identical optimizer step.
/// </summary>
internal sealed class TrainingRun(ICommunicator communicator, TrainingJob job)
{
    private readonly TrainerSettings _settings = job.Settings;
    private readonly nn.Module<Tensor, Tensor> _model = job.Model;

    public int Execute()
    {
        // The ranks on a node share its cores: each takes its share rather than all of them, which would oversubscribe them P times.
        if (Environment.GetEnvironmentVariable("OMP_NUM_THREADS") is null)
            set_num_threads(Math.Max(1, Environment.ProcessorCount / communicator.LocalSize));
        using var replica = new ModelReplica(_model);
        FlatParameters parameters = replica.Parameters;
        if (RankAgreement.Configuration(communicator, job.ConfigurationSha256, parameters.Count) is { } disagreement)
            return UsageError.Report($"hpcadam train: {disagreement}");
        replica.TakeRankZeros(communicator);
        RequireAgreement(parameters, optimizer: null, "after the broadcast of the initial weights");
        // One job per run folder: refused here, before this job reads a checkpoint or writes a byte.
        using RunFolderLock? folderLock = RunFolderLock.TakeOnRankZero(communicator, job.RunDirectory, "Run:Dir", _settings.Run.Lock,
            () => RunFolder.Problem(job.RunDirectory, resuming: job.Resume is not null), out string? refusal);
        if (refusal is not null)
            return UsageError.Report($"hpcadam train: {refusal}", ExitCodes.FolderBusy);
        if (folderLock is not null)
            CheckpointWriter.RemoveLeftovers(job.RunDirectory);

        int firstKappa = _settings.Batch.Kappa, microBatchSize = _settings.Batch.MicroBatchSize;
        OptimizerKind kind = OptimizerNames.Parse(_settings.Optimizer.Name);
        using var optimizer = new FlatOptimizer(parameters.Weights, kind, SettingsValidation.Hyperparameters(_settings.Optimizer),
            SettingsValidation.Scaling(_settings.Optimizer.Scaling), _settings.Optimizer.ReferenceKappa == 0 ? firstKappa : _settings.Optimizer.ReferenceKappa);
        using var controller = new BatchSizeController(_settings.Adaptive, firstKappa, job.MaxKappa, parameters.Weights);
        // AdAdaGrad's practice: η' and γ' stay those of the first κ while κ grows.
        int? hyperparameterKappa = _settings.Adaptive.HoldHyperparameters ? firstKappa : null;
        ResumePoint? resumed;
        try
        {
            resumed = Resumption.Restore(communicator, job.Resume, job, _model, parameters, optimizer.State, controller);
            replica.Buffers.Remember();
        }
        catch (CheckpointException error)
        {
            return UsageError.Report($"hpcadam train: {error.Message}");
        }
        if (resumed is not null && job.EndsAfter(resumed.Step, resumed.MicroBatchesConsumed, controller.Kappa))
            return UsageError.Report($"hpcadam train: {resumed.Folder} is at step {resumed.Step}, where this run ends: raise Train:Steps or Train:Epochs to go on");

        var stream = new MicroBatchStream(job.Train.Count, microBatchSize, _settings.Train.Seed);
        var faults = FaultInjection.FromEnvironment(communicator.Rank);
        using var buffer = new StepBuffer(parameters.Count, replica.Buffers.Count);
        using var signals = new StopSignals();
        using var watchdog = new CollectiveWatchdog(communicator.Rank, _settings.Check.TimeoutSeconds, () => signals.Received is not null);
        using RunFolder? folder = communicator.Rank == 0
            ? new RunFolder(job.RunDirectory, job.ResolvedConfigurationJson, _settings.Trace.Samples, resumed?.Step) : null;
        var progress = new ProgressReporter(controller.Test == SamplingTest.None || job.MicroBatchBudget == long.MaxValue ? job.TotalSteps : null, Console.Out);
        if (_settings.Trace.Samples && resumed is null)
            folder?.InitialWeights(_model, parameters);
        folder?.Metrics(new JsonLine().Add("event", resumed is null ? "start" : "resume").Add("world_size", communicator.Size)
            .Add("parameters", parameters.Count).Add("steps", job.TotalSteps).Add("communicator", communicator.Description)
            .Add("from_step", resumed?.Step ?? 0));
        if (resumed is not null && communicator.Rank == 0)
            progress.Note($"resumed from {resumed.Folder} at step {resumed.Step} on {communicator.Size} rank(s)");

        var timings = new StepTimings();
        // This start goes on from the checkpoint's counters; its throughput counts its own steps only.
        long firstStep = (resumed?.Step ?? 0) + 1, samplesBefore = resumed?.Samples ?? 0;
        long samples = samplesBefore, skipped = resumed?.Skipped ?? 0, cursor = resumed?.MicroBatchesConsumed ?? 0, skippedInARow = 0;
        (double Loss, double Accuracy) test = (double.NaN, double.NaN);
        long finalStep;
        for (long step = firstStep; ; step++)
        {
            int kappa = controller.Kappa;
            faults.BeforeStep(step, signals);
            timings.StartStep();
            buffer.Clear();
            for (int k = communicator.Rank; k < kappa; k += communicator.Size)
            {
                replica.AddMicroBatch(buffer, job.Train, stream.Indices(cursor + k), k, kappa);
                if (controller.Direction is { Known: true } direction)
                    buffer.AddProjection(direction.Project(parameters.Gradients));
            }
            faults.AfterMicroBatches(step, buffer);
            timings.ComputeDone();

            using (watchdog.Watch("all-reduce", step))
                buffer.Reduce(communicator, signals.Received is not null);
            timings.CommunicationDone();

            AdamHyperparameters effective = optimizer.EffectiveHyperparameters(hyperparameterKappa ?? kappa);
            skippedInARow = buffer.AnyNonFinite ? skippedInARow + 1 : 0;
            if (buffer.AnyNonFinite)
                skipped++;
            else
                optimizer.Step(buffer.S1, buffer.S2, kappa, hyperparameterKappa);
            replica.EndStep(buffer, skipped: buffer.AnyNonFinite);
            if (_settings.Trace.Buffers)
                replica.Buffers.Save(TraceFile(step));
            if (faults.At("desync", step))
                parameters.Weights[0].add_(1e-3f);
            timings.OptimizerDone();

            samples += buffer.TotalSamples;
            cursor += kappa;
            GradientStatistics statistics = GradientStatistics.Measure(buffer.S1, buffer.S2, kappa, microBatchSize);
            TestVerdict verdict = buffer.AnyNonFinite ? new TestVerdict(null, null, null, null) : controller.AfterStep(step, statistics, buffer);
            timings.StatisticsDone();
            double loss = buffer.TotalLoss / buffer.TotalSamples;
            folder?.Samples(step, Enumerable.Range(0, kappa).Select(k => stream.Indices(cursor - kappa + k)));
            folder?.Metrics(new JsonLine().Add("event", "step").Add("step", step).Add("samples", samples).Add("kappa", kappa)
                .Add("batch_size", (long)kappa * microBatchSize).Add("lr", effective.LearningRate)
                .Add("gamma1", kind.IsAdam() ? effective.Gamma1 : null).Add("gamma2", kind.IsAdam() ? effective.Gamma2 : null)
                .Add("loss", loss).Add("grad_norm", statistics.GradNorm).Add("grad_var", statistics.Variance)
                .Add("grad_sq_norm", statistics.TrueSquaredNorm).Add("trace_sigma", statistics.TraceSigma)
                .Add("noise_scale", controller.Noise.Value).Add("noise_scale_raw", statistics.NoiseScale)
                .Add("test_kappa", verdict.RequestedKappa).Add("inner_product_kappa", verdict.InnerProductKappa)
                .Add("orthogonality_kappa", verdict.OrthogonalityKappa).Add("skipped", skipped)
                .Add("compute_ms", timings.Last.ComputeMs).Add("comm_ms", timings.Last.CommunicationMs).Add("optim_ms", timings.Last.OptimizerMs)
                .Add("stats_ms", timings.Last.StatisticsMs));
            if (verdict.Change is { } change)
                folder?.Metrics(new JsonLine().Add("event", "kappa_change").Add("step", change.Step).Add("old", change.Old).Add("new", change.New)
                    .Add("test", change.Test).Add("statistic", change.Statistic));
            timings.StepDone();
            bool stopping = buffer.AnyStopRequested, last = job.EndsAfter(step, cursor, controller.Kappa);
            if (communicator.Rank == 0)
            {
                double done = job.Done(step, cursor);
                progress.Report(step, done, last, loss, (samples - samplesBefore) / timings.TrainingSeconds, timings.TrainingSeconds * (1 - done) / done);
            }
            if (skippedInARow >= _settings.Train.MaxSkips)
                throw new DivergedException($"{skippedInARow} steps in a row, up to step {step}, had a non-finite loss or gradient on some rank " +
                                                    "(Train:MaxSkips): lower Optimizer:Lr, or check the data and the model");
            if (_settings.Check.Every > 0 && step % _settings.Check.Every == 0)
                RequireAgreement(parameters, optimizer.State, $"at step {step} (Check:Every)");

            if (last || (_settings.Eval.Every > 0 && step % _settings.Eval.Every == 0))
                test = Evaluate(step, samples, folder, progress);
            if ((last || stopping || (_settings.Checkpoint.Every > 0 && step % _settings.Checkpoint.Every == 0))
                && Checkpoint(new CheckpointState(step, samples, cursor, kappa, controller.Kappa, microBatchSize, communicator.Size, _settings.Optimizer.Name,
                    _settings.Train.Seed, skipped, optimizer.State.C1, optimizer.State.C2, controller.Noise.Numerator, controller.Noise.Denominator,
                    job.ConfigurationSha256, RandomState()), parameters, optimizer.State, controller.Direction, folder, progress) is { } failure)
                return UsageError.Report($"hpcadam train: {failure}", ExitCodes.CheckpointFailed);
            if (last)
            {
                finalStep = step;
                break;
            }
            if (stopping)
                return Stop(step, signals.Received, folder, progress);
        }

        // Every rank applied the same updates to the same weights; prove it once per run.
        RequireAgreement(parameters, optimizer.State, $"at the end of step {finalStep}");
        double throughput = (samples - samplesBefore) / timings.TrainingSeconds;
        folder?.Summary(new
        {
            steps = finalStep,
            samples,
            mean_batch_size = (double)samples / finalStep,
            final_kappa = controller.Kappa,
            world_size = communicator.Size,
            skipped,
            test_loss = test.Loss,
            test_accuracy = test.Accuracy,
            throughput_samples_per_s = throughput,
            wall_s = timings.WallSeconds,
            step_ms = timings.MeanBreakdown(),
        });
        if (communicator.Rank == 0)
            Console.WriteLine(FormattableString.Invariant(
                $"test accuracy: {100 * test.Accuracy:0.00}% (test loss {test.Loss:0.0000}) after {finalStep} steps, {samples} samples, {throughput:0} samples/s on {communicator.Size} rank(s); outputs in {job.RunDirectory}"));
        return ExitCodes.Success;
    }

    /// <summary>With Trace:Buffers, where this rank writes its buffers after <paramref name="step"/>.</summary>
    private string TraceFile(long step) =>
        Path.Combine(job.RunDirectory, TraceFolder, FormattableString.Invariant($"buffers.rank-{communicator.Rank}.step-{step:D8}.safetensors"));

    public const string TraceFolder = "trace";

    /// <summary>torch's generator state, for checkpoints: nothing random runs after initialisation today, but augmentation or dropout would.</summary>
    private static string RandomState()
    {
        using Tensor state = get_rng_state();
        return Convert.ToBase64String(state.bytes);
    }

    /// <summary>Every rank must hold rank 0's weights and buffers (and optimizer state); a rank that does not is named.</summary>
    private void RequireAgreement(FlatParameters parameters, OptimizerState? optimizer, string when)
    {
        IEnumerable<Tensor> state = optimizer is null ? _model.buffers() : [.. _model.buffers(), optimizer.M, optimizer.V];
        if (RankAgreement.Model(communicator, parameters.Weights, state, when) is { } divergence)
            throw new InvalidOperationException(divergence);
    }

    private (double Loss, double Accuracy) Evaluate(long step, long samples, RunFolder? folder, ProgressReporter progress)
    {
        (double loss, double accuracy) = Evaluation.Run(_model, job.Test, _settings.Eval.Samples, communicator);
        folder?.Metrics(new JsonLine().Add("event", "eval").Add("step", step).Add("samples", samples).Add("test_loss", loss).Add("test_accuracy", accuracy));
        if (communicator.Rank == 0)
            progress.Note(FormattableString.Invariant($"step {step}: test loss {loss:0.0000}, test accuracy {100 * accuracy:0.00}%"));
        return (loss, accuracy);
    }

    /// <summary>
    /// Rank 0 writes the checkpoint and prunes old ones; every rank learns whether it could. A write
    /// that fails (a full disk, a quota) leaves nothing behind and ends the job on every rank with a
    /// line naming the step, the reason and the newest whole checkpoint; null when all went well.
    /// </summary>
    private string? Checkpoint(CheckpointState state, FlatParameters parameters, OptimizerState optimizer, ProjectionDirection? direction,
        RunFolder? folder, ProgressReporter progress)
    {
        string failure = "";
        if (folder is not null)
        {
            try
            {
                string path = CheckpointWriter.Write(folder.Directory, job.ResolvedConfigurationJson, _model, parameters, optimizer, direction, state);
                progress.Note($"checkpoint {path}");
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                failure = $"the checkpoint of step {state.Step} could not be saved ({Reason(error)}) and nothing of it was kept; " +
                          (CheckpointReader.Latest(folder.Directory) is { } newest
                              ? $"the newest whole checkpoint is {newest}: go on from it with --Resume=latest once there is room"
                              : "the run has no whole checkpoint yet");
            }
            if (failure.Length == 0)
                CheckpointWriter.Prune(folder.Directory, _settings.Checkpoint.Keep, _settings.Checkpoint.KeepEvery);
        }
        Span<int> failed = [failure.Length > 0 ? 1 : 0];
        communicator.Broadcast(failed, root: 0);
        return failed[0] == 0 ? null : communicator.Rank == 0 ? failure : "rank 0 could not save a checkpoint";
    }

    /// <summary>The operating system's words for a failed write ("No space left on device"), without the temporary file's path.</summary>
    private static string Reason(Exception error) =>
        error.HResult is > 0 and < 4096 ? Marshal.GetPInvokeErrorMessage(error.HResult) : error.Message;

    /// <summary>Whether <see cref="Execute"/> ended early on SIGTERM or SIGUSR1 (with exit code 0), so a caller running several jobs stops too.</summary>
    public bool Stopped { get; private set; }

    private int Stop(long step, string? signal, RunFolder? folder, ProgressReporter progress)
    {
        Stopped = true;
        string reason = $"stopped after step {step} on {signal ?? "another rank's signal"}";
        folder?.MarkPreempted(reason);
        if (communicator.Rank == 0)
            progress.Note($"{reason}; go on with: hpcadam train --Resume=latest --Run:Dir={job.RunDirectory} (and the same settings)");
        return ExitCodes.Success;
    }
}
