using HpcAdam.Trainer.Data;
using TorchSharp;

namespace HpcAdam.Tests.Data;

/// <summary>The generated data set: MNIST's shape, reproducible from its seed, normalised, and its classes really tell apart.</summary>
public sealed class SyntheticImagesTests
{
    [Test]
    public void TheDefaultSplitsHaveMnistsShapeAndBalancedClasses()
    {
        using var train = ImageClassificationSet.Load("synthetic", dataDir: "nowhere", train: true, seed: 1);
        using var test = ImageClassificationSet.Load("synthetic", dataDir: "nowhere", train: false, seed: 1);

        Assert.That(train.Images.shape, Is.EqualTo(new long[] { SyntheticImages.DefaultTrainCount, 1, 28, 28 }));
        Assert.That(test.Images.shape, Is.EqualTo(new long[] { SyntheticImages.DefaultTestCount, 1, 28, 28 }));
        using var histogram = torch.bincount(train.Labels);
        Assert.That(histogram.data<long>().ToArray(), Is.All.EqualTo(SyntheticImages.DefaultTrainCount / 10));
    }

    [Test]
    public void TheSameSeedGivesTheSameImagesAndAnotherSeedOrSplitOthers()
    {
        using var first = SyntheticImages.Generate(100, train: true, seed: 42);
        using var again = SyntheticImages.Generate(100, train: true, seed: 42);
        using var otherSeed = SyntheticImages.Generate(100, train: true, seed: 43);
        using var testSplit = SyntheticImages.Generate(100, train: false, seed: 42);

        Assert.That(Pixels(first), Is.EqualTo(Pixels(again)));
        Assert.That(first.Labels.data<long>().ToArray(), Is.EqualTo(again.Labels.data<long>().ToArray()));
        Assert.That(Pixels(first), Is.Not.EqualTo(Pixels(otherSeed)));
        Assert.That(Pixels(first), Is.Not.EqualTo(Pixels(testSplit)));
    }

    private static float[] Pixels(ImageClassificationSet set) => set.Images.data<float>().ToArray();

    [Test]
    public void NormalisedPixelsHaveMeanZeroAndStdOne()
    {
        using var set = SyntheticImages.Generate(2000, train: true, seed: 7);

        Assert.That(set.Images.mean().item<float>(), Is.EqualTo(0).Within(0.02));
        Assert.That(set.Images.std().item<float>(), Is.EqualTo(1).Within(0.02));
    }

    [Test]
    public void EachImagesClassIsItsStrongestGratingOrientation()
    {
        // Energy of each image in each class's grating, whatever the phase: (x·cos)² + (x·sin)².
        using var scope = torch.NewDisposeScope();
        using var set = SyntheticImages.Generate(500, train: false, seed: 3);
        var coordinates = torch.arange(28, dtype: torch.ScalarType.Float32);
        var y = coordinates.view(28, 1);
        var x = coordinates.view(1, 28);
        var templates = new List<torch.Tensor>();
        for (int label = 0; label < 10; label++)
        {
            double angle = Math.PI * label / 10;
            var argument = (x * Math.Cos(angle) + y * Math.Sin(angle)) * (2 * Math.PI / 7);
            templates.Add(argument.cos().flatten());
            templates.Add(argument.sin().flatten());
        }
        var projections = set.Images.flatten(1).matmul(torch.stack(templates, dim: 1));
        var predicted = projections.square().view(-1, 10, 2).sum(dim: 2).argmax(dim: 1);

        double accuracy = predicted.eq(set.Labels).to_type(torch.ScalarType.Float32).mean().item<float>();
        Assert.That(accuracy, Is.GreaterThan(0.95));
    }
}
