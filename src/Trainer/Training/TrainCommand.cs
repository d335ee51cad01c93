using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Models;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// `hpcadam train [--config FILE] [--Section:Key=value ...] [--Resume ...]`. Everything a user can
/// get wrong (keys, values, data files, the run folder) is checked before a rank touches MPI or
/// writes a file, and reported as one line with exit code 2.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var resume = new Option<string?>("--Resume")
        {
            Description = "Go on from a checkpoint: 'latest' (the newest in Run:Dir; a run without one starts fresh), a run folder, or a checkpoint folder.",
        };
        return SettingsCommand.Create("train",
            "Train a model data-parallel: one all-reduce of [Σg | Σg² | buffers | scalars] per step, batch-size-invariant Adam on every rank.",
            key => key.Section is not (nameof(TrainerSettings.Sweep) or nameof(TrainerSettings.Probe)),
            (parsed, settings) =>
            {
                TrainingJob job = Prepare(settings, parsed.GetValue(resume));
                return Job.Run(communicator => new TrainingRun(communicator, job).Execute());
            },
            resume);
    }

    /// <summary>Checks settings, loads the data and builds the model: a job ready to run (also one run of a sweep).</summary>
    public static TrainingJob Prepare(TrainerSettings settings, string? resume)
    {
        Require(SettingsValidation.Problem(settings) ?? FaultInjection.Problem());
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(SettingsLoader.ToJson(settings))));

        ImageClassificationSet train = ImageClassificationSet.Load(settings.Data.Name, settings.Data.Dir, train: true, settings.Train.Seed);
        ImageClassificationSet test = ImageClassificationSet.Load(settings.Data.Name, settings.Data.Dir, train: false, settings.Train.Seed);
        ImageShape shape = train.Shape;
        Require(ModelFactory.Problem(settings.Model, shape));
        if (settings.Batch.MicroBatchSize > train.Count)
            Require($"Batch:MicroBatchSize = {settings.Batch.MicroBatchSize} is larger than the {train.Count} training samples of {settings.Data.Name}");
        long microBatchesPerEpoch = train.Count / settings.Batch.MicroBatchSize;
        // A run of Train:Steps steps, or of the micro-batches of Train:Epochs epochs: with an adaptive κ the
        // steps that budget allows are known only as the run goes, and TotalSteps (at the first κ) bounds them.
        long budget = settings.Train.Steps > 0 ? long.MaxValue : settings.Train.Epochs * microBatchesPerEpoch;
        long totalSteps = settings.Train.Steps > 0 ? settings.Train.Steps : budget / settings.Batch.Kappa;
        if (totalSteps < 1)
            Require($"Train:Epochs = {settings.Train.Epochs} of {microBatchesPerEpoch} micro-batches is not one step of Batch:Kappa = {settings.Batch.Kappa}; raise Train:Epochs or set Train:Steps");
        int maxKappa = settings.Adaptive.MaxKappa > 0 ? settings.Adaptive.MaxKappa : (int)Math.Min(int.MaxValue, Math.Max(settings.Batch.Kappa, microBatchesPerEpoch));
        Require(SettingsValidation.ScalableProblem(settings, maxKappa));

        string runDirectory = settings.Run.Dir.Length > 0 ? settings.Run.Dir : RunDirectoryOf(resume) ?? RunFolder.Default();
        Require(RunFolder.Problem(runDirectory, resuming: resume is not null));
        settings.Run.Dir = runDirectory;
        string resolved = SettingsLoader.ToJson(settings);

        manual_seed(settings.Train.Seed);
        var model = ModelFactory.Create(settings.Model, shape, ImageClassificationSet.ClassCount);
        return new TrainingJob(settings, sha256, train, test, model, totalSteps, budget, maxKappa, runDirectory, resolved, resume);
    }

    /// <summary>The run folder a --Resume path belongs to: the folder itself, or RUN for RUN/checkpoints/STEP.</summary>
    private static string? RunDirectoryOf(string? resume)
    {
        if (resume is null)
            return null;
        if (resume == "latest")
            throw new SettingsException("--Resume=latest needs Run:Dir, the folder of the run to go on with");
        string full = Path.GetFullPath(resume);
        return Path.GetFileName(Path.GetDirectoryName(full)) == CheckpointWriter.Folder ? Path.GetDirectoryName(Path.GetDirectoryName(full)) : full;
    }

    private static void Require(string? problem)
    {
        if (problem is not null)
            throw new SettingsException(problem);
    }
}
