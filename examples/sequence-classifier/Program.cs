// A 1-D convolutional classifier of generated waveforms, trained data-parallel with BSI-Adam by
// HpcAdam's trainer: run it with `mpirun -np 2 dotnet run -- --Train:Steps=200` (README.md).
using HpcAdam.Training;
using SequenceClassifier;
using static TorchSharp.torch;

// Settings: the trainer's defaults, then HPCADAM__Section__Key variables and --Section:Key=value arguments.
bool resume = args.Contains("--resume");
var settings = SettingsLoader.Load<TrainingSettings>(configFile: null, [.. args.Where(arg => arg != "--resume")]);

// The data every rank generates alike, and the model: rank 0's initial weights are broadcast to all ranks.
using var train = Waveforms.Generate(count: 8192, length: 64, seed: 1);
using var test = Waveforms.Generate(count: 2048, length: 64, seed: 2);
manual_seed(settings.Train.Seed);
using var model = new WaveformClassifier(classes: Waveforms.Classes);

var trainer = new DataParallelTrainer(model, train, settings, resume: resume ? "latest" : null)
{
    Loss = (output, target) => nn.functional.cross_entropy(output, target),
    Evaluate = Evaluation.Classification(test),
};
return DataParallelJob.Run(communicator =>
{
    TrainingResult result = trainer.Train(communicator);
    if (communicator.Rank == 0 && !result.Stopped)
        Console.WriteLine($"accuracy {result.Metrics["test_accuracy"]:P2} after {result.Steps} steps on {communicator.Size} rank(s); outputs in {result.RunDirectory}");
    return 0;
});
