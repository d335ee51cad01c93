using HpcAdam.Collectives;
using HpcAdam.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Training;

/// <summary>
/// The library's API for models other than one-input classifiers, in one process: the seed alone
/// decides the initial weights, a model of two inputs gets both, and the ready classification metric
/// uses the trainer's loss, weighs batches by their loss units and leaves padding labels out.
/// </summary>
[TestFixture]
public sealed class DataParallelTrainerTests() : TemporaryDirectoryTest("hpcadam-trainer-api-")
{
    [Test]
    public void TrainSeedAloneDecidesTheInitialWeightsWhateverTheGeneratorsStateBefore()
    {
        using var data = new TaggedSequences(count: 40);
        manual_seed(12345);
        using var first = Trainer(seed: 7, () => nn.Linear(4, 3), data);
        using (rand(1000))
        {
        }
        using var again = Trainer(seed: 7, () => nn.Linear(4, 3), data);
        using var other = Trainer(seed: 8, () => nn.Linear(4, 3), data);
        Assert.That(Weights(again), Is.EqualTo(Weights(first)), "the same Train:Seed, another generator state before");
        Assert.That(Weights(other), Is.Not.EqualTo(Weights(first)), "another Train:Seed");
    }

    [Test]
    public void AModelOfTwoInputsGetsBothAndAMicroBatchOfAnotherCountIsRefused()
    {
        using var data = new TaggedSequences(count: 40);
        using var trainer = Trainer(seed: 0, () => new MaskedTagger(), data);
        using Tensor tokens = randn(2, 5, 4), mask = ones(2, 5);
        mask[1, 3..] = zeros(2);
        using Tensor output = trainer.Forward([tokens, mask]);
        Assert.That(output[1, 3..].abs().sum().item<float>(), Is.Zero, "the mask reached the model");
        Assert.That(output[1, ..3].abs().sum().item<float>(), Is.GreaterThan(0));
        var refused = Assert.Throws<ArgumentException>(() => trainer.Forward([tokens]));
        Assert.That(refused!.Message, Does.Contain("1 input tensor(s) and the model takes 2"));
    }

    [Test]
    public void TheClassificationMetricUsesTheTrainersLossWeighsByLossUnitsAndSkipsPaddingLabels()
    {
        using var data = new TaggedSequences(count: 40);
        Tensor Loss(Tensor output, Tensor target) =>
            2 * nn.functional.cross_entropy(output.flatten(0, 1), target.flatten(), ignore_index: TaggedSequences.Padding);
        using var trainer = new DataParallelTrainer(() => new MaskedTagger(), data, Settings(seed: 0)) { Loss = Loss };

        var settings = new EvalSettings { BatchSize = 16 };
        IReadOnlyDictionary<string, double> metrics = Evaluation.Classification(data)(trainer, new SingleProcessCommunicator(), settings);

        // By hand, over the same batches of 16, 16 and 8 sequences.
        double lossSum = 0, units = 0, correct = 0, labelled = 0;
        using (no_grad())
            for (long start = 0; start < data.Count; start += settings.BatchSize)
            {
                MicroBatchTensors batch = data.MicroBatch([.. Enumerable.Range((int)start, (int)Math.Min(settings.BatchSize, data.Count - start)).Select(i => (long)i)]);
                using Tensor output = trainer.Forward(batch.Inputs);
                lossSum += Loss(output, batch.Target).item<float>() * (double)batch.LossUnits!.Value;
                units += batch.LossUnits.Value;
                using Tensor real = batch.Target.ge(0);
                correct += output.argmax(-1).eq(batch.Target).logical_and(real).sum().item<long>();
                labelled += real.sum().item<long>();
            }
        Assert.That(metrics["test_loss"], Is.EqualTo(lossSum / units).Within(1e-6), "twice the cross-entropy: the trainer's loss, not the metric's own");
        Assert.That(metrics["test_accuracy"], Is.EqualTo(correct / labelled).Within(1e-9), "padding labels (−100) are not counted");
        Assert.That(labelled, Is.LessThan(40 * 5), "the set has padding");
    }

    private DataParallelTrainer Trainer(long seed, Func<nn.Module<Tensor, Tensor>> createModel, IMicroBatchSource data) =>
        new(createModel, data, Settings(seed));

    private DataParallelTrainer Trainer(long seed, Func<nn.Module<Tensor, Tensor, Tensor>> createModel, IMicroBatchSource data) =>
        new(createModel, data, Settings(seed));

    private TrainingSettings Settings(long seed) => new()
    {
        Batch = { MicroBatchSize = 4, Kappa = 2 },
        Train = { Steps = 1, Seed = seed },
        Run = { Dir = Path.Combine(TestDirectory, $"run-{Guid.NewGuid():N}") },
    };

    private static float[] Weights(DataParallelTrainer trainer) =>
        [.. trainer.Model.parameters().SelectMany(parameter => parameter.data<float>().ToArray())];

    /// <summary>Two inputs: per-token features [N, L, 4] and a mask [N, L] → per-token logits [N, L, 3], zero where masked.</summary>
    private sealed class MaskedTagger : nn.Module<Tensor, Tensor, Tensor>
    {
        private readonly Linear _layer = nn.Linear(4, 3);

        public MaskedTagger() : base(nameof(MaskedTagger)) => RegisterComponents();

        public override Tensor forward(Tensor features, Tensor mask) => _layer.forward(features) * mask.unsqueeze(-1);
    }

    /// <summary>Sequences of 5 feature vectors, the last 0–2 of them padding, labelled −100 there; loss units: the real tokens.</summary>
    private sealed class TaggedSequences : IMicroBatchSource, IDisposable
    {
        public const long Padding = -100;
        private readonly Tensor _features, _mask, _labels;

        public TaggedSequences(int count)
        {
            var generator = new Generator().manual_seed(3);
            _features = randn(count, 5, 4, generator: generator);
            _mask = ones(count, 5);
            _labels = randint(0, 3, [count, 5], generator: generator);
            for (int i = 0; i < count; i++)
            {
                int padding = i % 3;
                if (padding > 0)
                {
                    _mask[i, (5 - padding)..] = zeros(padding);
                    _labels[i, (5 - padding)..] = full(padding, Padding, dtype: ScalarType.Int64);
                }
            }
        }

        public long Count => _features.shape[0];

        public MicroBatchTensors MicroBatch(long[] indices)
        {
            using Tensor index = tensor(indices);
            Tensor mask = _mask.index_select(0, index);
            return new MicroBatchTensors([_features.index_select(0, index), mask], _labels.index_select(0, index)) { LossUnits = (long)mask.sum().item<float>() };
        }

        public void Dispose()
        {
            _features.Dispose();
            _mask.Dispose();
            _labels.Dispose();
        }
    }
}
