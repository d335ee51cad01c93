using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using HpcAdam.Collectives;
using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// Data-parallel training of any TorchSharp module with HpcAdam's step
/// (docs/ALGORITHMS.md, "The step"): step s takes the next κ micro-batches of the global stream; micro-batch k goes to rank
/// k mod P, which adds its gradient to S1 and S2; one all-reduce sums [S1 | S2 | buffer changes |
/// scalars]; every rank applies the identical optimizer step, runs the same batch-size test on the
/// same sums, and rank 0 writes metrics and checkpoints. Build one on every rank with the same
/// settings and call <see cref="Train"/> on every rank (docs/library.md).
/// </summary>
public sealed class DataParallelTrainer : IDisposable
{
    private readonly TrainingSettings _settings;
    private readonly Func<nn.Module, IReadOnlyList<Tensor>, Tensor> _call;
    private readonly int _inputCount;
    private readonly ScalarType _precision;

    /// <summary>
    /// A trainer of the model <paramref name="createModel"/> builds, a module of one input. Checks the
    /// settings against <paramref name="train"/> and the run folder before anything runs, so a mistake
    /// is a <see cref="SettingsException"/> with one line naming the key, before any rank touches MPI;
    /// then seeds torch's generator with Train:Seed and builds the model, so the seed alone decides the
    /// initial weights (rank 0's, which every rank takes). The trainer owns the model it built.
    /// </summary>
    public DataParallelTrainer(Func<nn.Module<Tensor, Tensor>> createModel, IMicroBatchSource train, TrainingSettings settings)
        : this(createModel, (model, inputs) => ((nn.Module<Tensor, Tensor>)model).call(inputs[0]), 1, train, settings)
    {
    }

    /// <summary>A trainer of a model of two inputs, such as tokens and their padding mask (see the first constructor).</summary>
    public DataParallelTrainer(Func<nn.Module<Tensor, Tensor, Tensor>> createModel, IMicroBatchSource train, TrainingSettings settings)
        : this(createModel, (model, inputs) => ((nn.Module<Tensor, Tensor, Tensor>)model).call(inputs[0], inputs[1]), 2, train, settings)
    {
    }

    /// <summary>A trainer of a model of three inputs (see the first constructor).</summary>
    public DataParallelTrainer(Func<nn.Module<Tensor, Tensor, Tensor, Tensor>> createModel, IMicroBatchSource train, TrainingSettings settings)
        : this(createModel, (model, inputs) => ((nn.Module<Tensor, Tensor, Tensor, Tensor>)model).call(inputs[0], inputs[1], inputs[2]), 3, train, settings)
    {
    }

    private DataParallelTrainer(Func<nn.Module> createModel, Func<nn.Module, IReadOnlyList<Tensor>, Tensor> call, int inputCount,
        IMicroBatchSource train, TrainingSettings settings)
    {
        Require(SettingsValidation.Problem(settings) ?? FaultInjection.Problem()
                ?? ComputeDevice.Problem(settings.Device, settings.Collectives, ComputeDevice.VisibleGpus()));
        // The hash of the settings as given, which every rank must share (each rank may resolve a default Run:Dir of its own).
        string given = SettingsLoader.ToJson(settings);
        ConfigurationSha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(given)));
        _settings = (TrainingSettings)JsonSerializer.Deserialize(given, settings.GetType())!;
        (Data, _call, _inputCount, _precision) = (train, call, inputCount, ComputePrecision.Parse("Train:Precision", settings.Train.Precision));
        Resume = settings.Run.Resume.Length > 0 ? settings.Run.Resume : null;

        int microBatchSize = settings.Batch.MicroBatchSize, kappa = settings.Batch.Kappa;
        if (microBatchSize > train.Count)
            Require($"Batch:MicroBatchSize = {microBatchSize} is larger than the {train.Count} training samples");
        long microBatchesPerEpoch = train.Count / microBatchSize;
        // A run of Train:Steps steps, or of the micro-batches of Train:Epochs epochs: with an adaptive κ the
        // steps that budget allows are known only as the run goes, and TotalSteps (at the first κ) bounds them.
        MicroBatchBudget = settings.Train.Steps > 0 ? long.MaxValue : settings.Train.Epochs * microBatchesPerEpoch;
        TotalSteps = settings.Train.Steps > 0 ? settings.Train.Steps : MicroBatchBudget / kappa;
        if (TotalSteps < 1)
            Require($"Train:Epochs = {settings.Train.Epochs} of {microBatchesPerEpoch} micro-batches is not one step of Batch:Kappa = {kappa}; raise Train:Epochs or set Train:Steps");
        MaxKappa = settings.Adaptive.MaxKappa > 0 ? settings.Adaptive.MaxKappa : (int)Math.Min(int.MaxValue, Math.Max(kappa, microBatchesPerEpoch));
        Require(SettingsValidation.ScalableProblem(settings, MaxKappa));
        // A schedule's horizon by default: the samples of Train:Epochs, or of Train:Steps at the first κ.
        Schedule = SettingsValidation.Schedule(settings.Optimizer, (MicroBatchBudget != long.MaxValue ? MicroBatchBudget : TotalSteps * kappa) * microBatchSize);
        Require(SettingsValidation.OptimizerProblem(Schedule.Validate));

        RunDirectory = settings.Run.Dir.Length > 0 ? settings.Run.Dir : RunDirectoryOf(Resume) ?? RunFolder.Default();
        Require(RunFolder.Problem(RunDirectory, resuming: Resume is not null));
        _settings.Run.Dir = RunDirectory;
        ResolvedConfigurationJson = SettingsLoader.ToJson(_settings);

        manual_seed(settings.Train.Seed);
        Model = createModel();
    }

    /// <summary>The mean loss of a micro-batch from the model's output and the source's target; cross-entropy by default.</summary>
    public Func<Tensor, Tensor, Tensor> Loss { get; init; } = (output, target) => nn.functional.cross_entropy(output, target);

    /// <summary>The metric of Eval:Every and of the run's end; none by default.</summary>
    public Evaluator? Evaluate { get; init; }

    /// <summary>The model, built by the constructor; the trainer disposes it.</summary>
    public nn.Module Model { get; }

    public IMicroBatchSource Data { get; }

    /// <summary>Run:Resume: "latest", a run folder or a checkpoint folder; null for a fresh run.</summary>
    public string? Resume { get; }

    /// <summary>
    /// The model's output for a micro-batch's inputs, as the step computes it: in Train:Precision, with a
    /// floating input cast to bfloat16 on the way in and the output to float32 on the way out, so the
    /// loss is computed in float32. An <see cref="Evaluator"/> calls this rather than the model.
    /// </summary>
    public Tensor Forward(IReadOnlyList<Tensor> inputs)
    {
        if (inputs.Count != _inputCount)
            throw new ArgumentException($"the micro-batch has {inputs.Count} input tensor(s) and the model takes {_inputCount}: " +
                                        "the source's MicroBatchTensors.Inputs must be the model's forward arguments");
        if (_precision == ScalarType.Float32)
            return _call(Model, inputs);
        Tensor output = _call(Model, [.. inputs.Select(input => input.is_floating_point() ? input.to(_precision) : input)]);
        return output.is_floating_point() ? output.to(ScalarType.Float32) : output;
    }

    /// <summary>Where rank 0 writes the run: Run:Dir, the run a Run:Resume path names, or runs/UTC-TIME.</summary>
    public string RunDirectory { get; }

    /// <summary>The run's steps: Train:Steps, or the steps of Train:Epochs at the first κ (fewer when κ grows).</summary>
    public long TotalSteps { get; }

    /// <summary>The micro-batches the run may consume: Train:Epochs' worth, or unbounded with Train:Steps.</summary>
    public long MicroBatchBudget { get; }

    /// <summary>The largest κ an adaptive batch may grow to.</summary>
    public int MaxKappa { get; }

    /// <summary>η's factor along the samples seen (Optimizer:Schedule), with this run's horizon.</summary>
    public LearningRateSchedule Schedule { get; }

    internal TrainingSettings Settings => _settings;
    internal ScalarType Precision => _precision;
    internal string ConfigurationSha256 { get; }
    internal string ResolvedConfigurationJson { get; }

    /// <summary>Whether the run ends after <paramref name="step"/>: its last step, or no room in the budget for a step of <paramref name="nextKappa"/>.</summary>
    internal bool EndsAfter(long step, long microBatchesConsumed, int nextKappa) =>
        step >= TotalSteps || microBatchesConsumed + nextKappa > MicroBatchBudget;

    /// <summary>The fraction of the run behind a step: of its steps, or of its budget when κ may grow.</summary>
    internal double Done(long step, long microBatchesConsumed) =>
        Math.Max((double)step / TotalSteps, MicroBatchBudget == long.MaxValue ? 0 : (double)microBatchesConsumed / MicroBatchBudget);

    /// <summary>
    /// Runs the job on this rank; every rank of <paramref name="communicator"/> must call it. Throws
    /// <see cref="TrainingException"/> (the same on every rank) when the run is refused or cannot go on,
    /// and <see cref="DivergedException"/> after Train:MaxSkips non-finite steps in a row.
    /// </summary>
    public TrainingResult Train(ICommunicator communicator)
    {
        Device device = DeviceOf(communicator);
        using NcclCommunicator? nccl = ComputeDevice.UsesNccl(_settings.Collectives, device) ? NcclCommunicator.Create(communicator, device.index) : null;
        try
        {
            using var run = new TrainingRun(nccl ?? communicator, this, device);
            return run.Execute();
        }
        catch
        {
            // Peers may be waiting in a collective this rank will never join: no orderly ncclCommDestroy.
            nccl?.AbortNccl();
            throw;
        }
    }

    /// <summary>This rank's device (Device:Name); when a rank has none, every rank refuses alike, after one small all-reduce.</summary>
    private Device DeviceOf(ICommunicator communicator)
    {
        (Device? device, string? problem) = ComputeDevice.Select(_settings.Device, communicator.LocalRank, communicator.LocalSize, ComputeDevice.VisibleGpus());
        Span<double> refusals = [problem is null ? 0 : 1];
        communicator.AllReduceSum(refusals);
        if (refusals[0] > 0)
            throw new TrainingException(problem ?? "a rank on another node has no GPU of its own (Device:Share)");
        return device!;
    }

    /// <summary>The run folder a resume path belongs to: the folder itself, or RUN for RUN/checkpoints/STEP.</summary>
    private static string? RunDirectoryOf(string? resume)
    {
        if (resume is null)
            return null;
        if (resume == "latest")
            throw new SettingsException("Run:Resume = latest needs Run:Dir, the folder of the run to go on with");
        string full = Path.GetFullPath(resume);
        return Path.GetFileName(Path.GetDirectoryName(full)) == CheckpointWriter.Folder ? Path.GetDirectoryName(Path.GetDirectoryName(full)) : full;
    }

    public void Dispose() => Model.Dispose();

    private static void Require(string? problem)
    {
        if (problem is not null)
            throw new SettingsException(problem);
    }
}
