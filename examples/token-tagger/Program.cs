// A per-token tagger of padded sequences, a model of two inputs (tokens and their padding mask)
// with a token-level loss, trained data-parallel with BSI-Adam by HpcAdam's trainer (docs/library.md):
// mpirun -np 2 dotnet bin/Release/net10.0/TokenTagger.dll --Run:Dir=runs/tagger
using HpcAdam.Training;
using TokenTagger;
using static TorchSharp.torch;

return DataParallelJob.Run(communicator =>
{
    // Settings: tagger.json, then HPCADAM__Section__Key variables, then --Section:Key=value arguments
    // (--Run:Resume=latest goes on from the newest checkpoint in Run:Dir).
    var settings = SettingsLoader.Load<TrainingSettings>(Path.Combine(AppContext.BaseDirectory, "tagger.json"), args);

    using var train = TokenSequences.Generate(count: 8192, length: 24, seed: 1);
    using var test = TokenSequences.Generate(count: 2048, length: 24, seed: 2);
    using var trainer = new DataParallelTrainer(() => new SequenceTagger(TokenSequences.Vocabulary, width: 32), train, settings)
    {
        // The mean over the real tokens: padding (−100) is ignored, and each micro-batch says how many tokens that is.
        Loss = (output, target) => nn.functional.cross_entropy(output.flatten(0, 1), target.flatten(), ignore_index: TokenSequences.Padding),
        Evaluate = Evaluation.Classification(test),
    };
    TrainingResult result = trainer.Train(communicator);
    if (communicator.Rank == 0 && !result.Stopped)
        Console.WriteLine($"token accuracy {result.Metrics["test_accuracy"]:P2} after {result.Steps} steps on {communicator.Size} rank(s); outputs in {result.RunDirectory}");
    return 0;
});
