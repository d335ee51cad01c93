using HpcAdam.Trainer.Models;
using HpcAdam.Trainer.Data;
using TorchSharp;

namespace HpcAdam.Tests.Data;

/// <summary>Loading one split from IDX files in a temporary data folder laid out as scripts/fetch-data.sh writes it.</summary>
public sealed class ImageClassificationSetTests
{
    private string _dataDir = "";

    [SetUp]
    public void CreateDirectory() => _dataDir = Directory.CreateTempSubdirectory("hpcadam-data-").FullName;

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_dataDir, recursive: true);

    private string SplitFile(string name, string file) => Path.Combine(_dataDir, name, file);

    [Test]
    public void ASplitLoadsAsNormalisedFloatImagesAndInt64Labels()
    {
        byte[] pixels = [0, 255, 51, 102, 1, 2, 3, 4, 250, 128, 0, 7];
        IdxBytes.WriteImages(SplitFile("mnist", "t10k-images-idx3-ubyte"), rows: 2, columns: 2, pixels);
        IdxBytes.WriteLabels(SplitFile("mnist", "t10k-labels-idx1-ubyte"), [7, 2, 9]);

        using var set = ImageClassificationSet.Load("mnist", _dataDir, train: false, seed: 0);

        Assert.That(set.Count, Is.EqualTo(3));
        Assert.That(set.Images.shape, Is.EqualTo(new long[] { 3, 1, 2, 2 }));
        Assert.That(set.Shape, Is.EqualTo(new ImageShape(1, 2, 2)));
        Assert.That(set.Images.dtype, Is.EqualTo(torch.ScalarType.Float32));
        Assert.That(set.Labels.dtype, Is.EqualTo(torch.ScalarType.Int64));
        Assert.That(set.Labels.data<long>().ToArray(), Is.EqualTo(new long[] { 7, 2, 9 }));
        float[] expected = pixels.Select(p => (float)((p / 255.0 - 0.1307) / 0.3081)).ToArray();
        Assert.That(set.Images.data<float>().ToArray(), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void FashionMnistIsNormalisedWithItsOwnStatistics()
    {
        IdxBytes.WriteImages(SplitFile("fashion-mnist", "train-images-idx3-ubyte"), rows: 1, columns: 2, [0, 255]);
        IdxBytes.WriteLabels(SplitFile("fashion-mnist", "train-labels-idx1-ubyte"), [3]);

        using var set = ImageClassificationSet.Load("fashion-mnist", _dataDir, train: true, seed: 0);

        Assert.That(set.Images.data<float>().ToArray(), Is.EqualTo(new[] { -0.2860f / 0.3530f, (1 - 0.2860f) / 0.3530f }).Within(1e-5));
    }

    [Test]
    public void ALabelOutsideZeroToNineIsRejectedNamingItsIndex()
    {
        IdxBytes.WriteImages(SplitFile("mnist", "train-images-idx3-ubyte"), rows: 1, columns: 1, [0, 0, 0]);
        IdxBytes.WriteLabels(SplitFile("mnist", "train-labels-idx1-ubyte"), [1, 10, 2]);

        var error = Assert.Throws<DataFileException>(() => ImageClassificationSet.Load("mnist", _dataDir, train: true, seed: 0));

        Assert.That(error!.Message, Is.EqualTo(
            $"{SplitFile("mnist", "train-labels-idx1-ubyte")}: label 10 at index 1 is outside 0..9; run scripts/fetch-data.sh mnist {_dataDir}"));
    }

    [Test]
    public void ImagesAndLabelsOfDifferentCountsAreRejectedNamingBothFiles()
    {
        IdxBytes.WriteImages(SplitFile("mnist", "train-images-idx3-ubyte"), rows: 1, columns: 1, [0, 0, 0]);
        IdxBytes.WriteLabels(SplitFile("mnist", "train-labels-idx1-ubyte"), [1, 2]);

        var error = Assert.Throws<DataFileException>(() => ImageClassificationSet.Load("mnist", _dataDir, train: true, seed: 0));

        Assert.That(error!.Message, Does.StartWith(
            $"{SplitFile("mnist", "train-labels-idx1-ubyte")}: 2 labels for the 3 images of {SplitFile("mnist", "train-images-idx3-ubyte")}; "));
    }

    [Test]
    public void AMissingDataSetSaysWhichFetchWritesIt()
    {
        var error = Assert.Throws<DataFileException>(() => ImageClassificationSet.Load("fashion-mnist", _dataDir, train: true, seed: 0));

        Assert.That(error!.Message, Is.EqualTo(
            $"{SplitFile("fashion-mnist", "train-images-idx3-ubyte")}: no such file; run scripts/fetch-data.sh fashion-mnist {_dataDir}"));
    }

    [Test]
    public void AnUnknownDataSetIsRejectedListingTheKnownOnes()
    {
        Assert.That(() => ImageClassificationSet.Load("cifar100", _dataDir, train: true, seed: 0),
            Throws.ArgumentException.With.Message.StartsWith("unknown data set 'cifar100': expected mnist, fashion-mnist, cifar10 or synthetic"));
    }

    [Test]
    public void StatisticsOfAnotherChannelCountAreRejected()
    {
        Assert.That(() => ImageClassificationSet.FromPixels(new byte[3 * 4], [0], (3, 2, 2), PixelStatistics.Mnist),
            Throws.ArgumentException.With.Message.StartsWith("images of 3 channels, statistics of 1"));
    }
}
