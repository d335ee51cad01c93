using System.CommandLine;
using HpcAdam.Collectives;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Models;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// `hpcadam train [--config FILE] [--Section:Key=value ...] [--Resume ...]` (--Resume is Run:Resume): a built-in model on a
/// built-in data set through the training library's <see cref="DataParallelTrainer"/>, the same path
/// a user's own program takes. Everything a user can get wrong (keys, values, data files, the run
/// folder) is checked before a rank touches MPI or writes a file, and reported as one line with exit code 2.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var resume = new Option<string?>("--Resume")
        {
            Description = "Go on from a checkpoint: 'latest' (the newest in Run:Dir; a run without one starts fresh), a run folder, or a checkpoint folder; the same as --Run:Resume.",
        };
        return SettingsCommand.Create("train",
            "Train a model data-parallel: one all-reduce of [Σg | Σg² | buffers | scalars] per step, batch-size-invariant Adam on every rank.",
            key => key.Section is not (nameof(TrainerSettings.Sweep) or nameof(TrainerSettings.Probe)),
            (parsed, settings) =>
            {
                if (parsed.GetValue(resume) is { } from)
                    settings.Run.Resume = from;
                using BuiltInJob job = Prepare(settings);
                return DataParallelJob.Run(communicator => Run(job.Trainer, communicator).ExitCode);
            },
            resume);
    }

    /// <summary>Checks settings, loads the data and builds the model: a trainer ready to run (also one run of a sweep).</summary>
    public static BuiltInJob Prepare(TrainerSettings settings)
    {
        if (settings.Problem() is { } problem)
            throw new SettingsException(problem);
        var data = TrainingData.Load(settings);
        if (ModelFactory.Problem(settings.Model, data.Shape) is { } modelProblem)
            throw new SettingsException(modelProblem);
        try
        {
            var trainer = new DataParallelTrainer(() => ModelFactory.Create(settings.Model, data.Shape, data.Classes), data.Train, settings)
            {
                Evaluate = Evaluation.Classification(data.Test),
            };
            return new BuiltInJob(trainer, data);
        }
        catch (SettingsException)
        {
            data.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Trains on this rank: the exit code, the same on every rank, and whether a signal stopped the run.
    /// A refused run is one line from rank 0 (<see cref="TrainingException"/>).
    /// </summary>
    public static (int ExitCode, bool Stopped) Run(DataParallelTrainer trainer, ICommunicator communicator)
    {
        TrainingResult result;
        try
        {
            result = trainer.Train(communicator);
        }
        catch (TrainingException error)
        {
            return (UsageError.Report($"hpcadam train: {error.Message}", error.ExitCode), false);
        }
        if (communicator.Rank == 0 && !result.Stopped)
            Console.WriteLine(FormattableString.Invariant(
                $"test accuracy: {100 * result.Metrics["test_accuracy"]:0.00}% (test loss {result.Metrics["test_loss"]:0.0000}) after {result.Steps} steps, {result.Samples} samples, {result.SamplesPerSecond:0} samples/s{(result.Steady is { } steady ? $" ({steady.SamplesPerSecond:0} in the steady state)" : "")} on {communicator.Size} rank(s), {result.AllReduceBytesPerStep / 1048576.0:0.00} MiB all-reduced per step; outputs in {result.RunDirectory}"));
        return (ExitCodes.Success, result.Stopped);
    }
}

/// <summary>A trainer over a built-in model and data set, which owns their native memory: a sweep prepares one after another in one process.</summary>
internal sealed record BuiltInJob(DataParallelTrainer Trainer, TrainingData Data) : IDisposable
{
    public void Dispose()
    {
        Data.Dispose();
        Trainer.Dispose();
    }
}
