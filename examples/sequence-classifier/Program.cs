// A 1-D convolutional classifier of generated waveforms, trained data-parallel with BSI-Adam by
// HpcAdam's trainer (docs/library.md): mpirun -np 2 dotnet bin/Release/net10.0/SequenceClassifier.dll --Run:Dir=runs/waves
using HpcAdam.Training;
using SequenceClassifier;
using static TorchSharp.torch;

return DataParallelJob.Run(communicator =>
{
    // Settings: waves.json, then HPCADAM__Section__Key variables, then --Section:Key=value arguments;
    // --Run:Resume=latest goes on from the newest checkpoint in Run:Dir.
    var settings = SettingsLoader.Load<TrainingSettings>(Path.Combine(AppContext.BaseDirectory, "waves.json"), args);

    // The data every rank generates alike, and the model, built from Train:Seed; rank 0's initial weights are broadcast to all ranks.
    using var train = Waveforms.Generate(count: 8192, length: 64, seed: 1);
    using var test = Waveforms.Generate(count: 2048, length: 64, seed: 2);
    using var trainer = new DataParallelTrainer(() => new WaveformClassifier(classes: Waveforms.Classes), train, settings)
    {
        Loss = (output, target) => nn.functional.cross_entropy(output, target),
        Evaluate = Evaluation.Classification(test),
    };
    TrainingResult result = trainer.Train(communicator);
    if (communicator.Rank == 0 && !result.Stopped)
        Console.WriteLine($"accuracy {result.Metrics["test_accuracy"]:P2} after {result.Steps} steps on {communicator.Size} rank(s); outputs in {result.RunDirectory}");
    return 0;
});
