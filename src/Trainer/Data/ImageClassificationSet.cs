using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Data;

/// <summary>
/// One split (train or test) of a 10-class image data set, in memory as the tensors a model
/// takes: <see cref="Images"/> float32 [N, 1, rows, columns], normalised by the data set's
/// <see cref="PixelStatistics"/>, and <see cref="Labels"/> int64 [N] in 0..9.
/// </summary>
internal sealed class ImageClassificationSet : IDisposable
{
    public const int ClassCount = 10;

    private ImageClassificationSet(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    public Tensor Images { get; }
    public Tensor Labels { get; }
    public long Count => Labels.shape[0];

    /// <summary>
    /// The train or test split of mnist, fashion-mnist (from <paramref name="dataDir"/>, which holds
    /// the mnist/ and fashion-mnist/ folders scripts/fetch-data.sh writes) or synthetic (generated
    /// from <paramref name="seed"/>, which the real data sets ignore).
    /// </summary>
    public static ImageClassificationSet Load(string name, string dataDir, bool train, long seed) => name switch
    {
        "mnist" => FromIdxFiles(name, dataDir, train, PixelStatistics.Mnist),
        "fashion-mnist" => FromIdxFiles(name, dataDir, train, PixelStatistics.FashionMnist),
        "synthetic" => SyntheticImages.Generate(train ? SyntheticImages.DefaultTrainCount : SyntheticImages.DefaultTestCount, train, seed),
        _ => throw new ArgumentException($"unknown data set '{name}': expected mnist, fashion-mnist or synthetic", nameof(name)),
    };

    /// <summary>A split as scripts/fetch-data.sh writes it: DIR/NAME/{train,t10k}-{images-idx3,labels-idx1}-ubyte.</summary>
    public static ImageClassificationSet FromIdxFiles(string name, string dataDir, bool train, PixelStatistics statistics)
    {
        string prefix = Path.Combine(dataDir, name, train ? "train" : "t10k");
        string imagesPath = $"{prefix}-images-idx3-ubyte";
        string labelsPath = $"{prefix}-labels-idx1-ubyte";
        string remedy = $"run scripts/fetch-data.sh {name} {dataDir}";

        IdxImages images = IdxFile.ReadImages(imagesPath, remedy);
        byte[] labels = IdxFile.ReadLabels(labelsPath, remedy);
        if (labels.Length != images.Count)
            throw new DataFileException(labelsPath, $"{labels.Length} labels for the {images.Count} images of {imagesPath}", remedy);
        int outOfRange = Array.FindIndex(labels, label => label >= ClassCount);
        if (outOfRange >= 0)
            throw new DataFileException(labelsPath, $"label {labels[outOfRange]} at index {outOfRange} is outside 0..{ClassCount - 1}", remedy);
        return FromPixels(images.Pixels, labels, images.Rows, images.Columns, statistics);
    }

    /// <summary>Bytes to tensors: pixels [N · rows · columns] row-major, labels [N] already checked to lie in 0..9.</summary>
    public static ImageClassificationSet FromPixels(byte[] pixels, byte[] labels, int rows, int columns, PixelStatistics statistics)
    {
        using var rawImages = torch.tensor(pixels, [labels.Length, 1, rows, columns]);
        using var rawLabels = torch.tensor(labels, [labels.Length]);
        // In place on the float copy: one [N, 1, rows, columns] buffer, not three.
        Tensor images = rawImages.to_type(ScalarType.Float32).div_(255).sub_(statistics.Mean).div_(statistics.Std);
        return new ImageClassificationSet(images, rawLabels.to_type(ScalarType.Int64));
    }

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
