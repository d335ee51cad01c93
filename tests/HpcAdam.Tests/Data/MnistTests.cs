using HpcAdam.Trainer.Data;
using TorchSharp;

namespace HpcAdam.Tests.Data;

/// <summary>The real MNIST files in data/mnist (scripts/test.sh fetches them first).</summary>
public sealed class MnistTests
{
    private static readonly string s_dataDir = Path.Combine(ChildProcess.RepoRoot, "data");

    [OneTimeSetUp]
    public void RequireTheFiles()
    {
        if (!Directory.Exists(Path.Combine(s_dataDir, "mnist")))
            Assert.Fail($"{s_dataDir}/mnist is missing: run scripts/fetch-data.sh mnist (scripts/test.sh does)");
    }

    [Test]
    public void TheTrainingSplitHasMnistsCountsFirstLabelAndStatistics()
    {
        using var train = ImageClassificationSet.Load("mnist", s_dataDir, train: true, seed: 0);

        Assert.That(train.Images.shape, Is.EqualTo(new long[] { 60000, 1, 28, 28 }));
        Assert.That(train.Labels[0].item<long>(), Is.EqualTo(5));
        using var histogram = torch.bincount(train.Labels, minlength: 10);
        Assert.That(histogram.data<long>().ToArray(), Is.EqualTo(new long[] { 5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949 }));
        Assert.That(histogram.sum().item<long>(), Is.EqualTo(60000));
        // The normalisation constants are MNIST's training statistics, so they must come out as 0 and 1.
        Assert.That(train.Images.mean().item<float>(), Is.EqualTo(0).Within(0.01));
        Assert.That(train.Images.std().item<float>(), Is.EqualTo(1).Within(0.02));
    }

    [Test]
    public void TheTestSplitHasMnistsCounts()
    {
        using var test = ImageClassificationSet.Load("mnist", s_dataDir, train: false, seed: 0);

        Assert.That(test.Images.shape, Is.EqualTo(new long[] { 10000, 1, 28, 28 }));
        using var histogram = torch.bincount(test.Labels, minlength: 10);
        Assert.That(histogram.data<long>().ToArray(), Is.EqualTo(new long[] { 980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009 }));
        Assert.That(histogram.sum().item<long>(), Is.EqualTo(10000));
    }
}
