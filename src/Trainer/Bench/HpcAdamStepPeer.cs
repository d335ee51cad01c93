using HpcAdam.Collectives;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Models;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// HpcAdam's side of `hpcadam bench step`: one case trained in this process the way `hpcadam train`
/// trains (settings as command-line overrides, the built-in model, <see cref="DataParallelTrainer"/>),
/// on synthetic images, with no evaluation, in a run folder the caller deletes. Its steady state
/// (<see cref="TrainingResult.Steady"/>) is the row.
/// </summary>
internal static class HpcAdamStepPeer
{
    public static PeerOutcome Run(StepBenchCase benchCase, int totalSteps, string device, string runDirectory, ICommunicator communicator)
    {
        var overrides = new List<string>
        {
            $"--Model:Name={benchCase.Model}", "--Data:Name=synthetic", $"--Batch:MicroBatchSize={benchCase.Config.MicroBatchSize}",
            $"--Batch:Kappa={benchCase.Config.Kappa}", $"--Train:Steps={totalSteps}", $"--Device:Name={device}", $"--Run:Dir={runDirectory}",
        };
        // Only a precision other than the default names the key, so float32 also runs on a trainer that predates Train:Precision.
        if (benchCase.Precision != StepBenchOptions.DefaultPrecision)
            overrides.Add($"--Train:Precision={benchCase.Precision}");
        TextWriter console = Console.Out;
        try
        {
            TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(null, overrides);
            using var train = ImageClassificationSet.Load(settings.Data.Name, settings.Data.Dir, train: true, settings.Train.Seed);
            using var trainer = new DataParallelTrainer(() => ModelFactory.Create(settings.Model, train.Shape, ImageClassificationSet.ClassCount), train, settings);
            long parameters = trainer.Model.parameters().Sum(parameter => parameter.numel());
            // The run's own progress lines would break up the table.
            Console.SetOut(TextWriter.Null);
            TrainingResult result = trainer.Train(communicator);
            return result.Steady is { } steady
                ? PeerOutcome.Timed(new PeerTiming(steady.MedianMs, steady.MedianStepMs, parameters, settings.Optimizer.Name))
                : PeerOutcome.Refused($"no steady state in {result.Steps} step(s)");
        }
        catch (Exception refused) when (refused is SettingsException or TrainingException or DivergedException)
        {
            return PeerOutcome.Refused(refused.Message);
        }
        finally
        {
            Console.SetOut(console);
        }
    }
}
