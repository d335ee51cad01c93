using HpcAdam.Collectives;
using HpcAdam.Trainer.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Data;

/// <summary>
/// One split (train or test) of a 10-class image data set, in memory as the tensors a model
/// takes: <see cref="Images"/> float32 [N, channels, height, width], normalised channel by channel
/// by the data set's <see cref="PixelStatistics"/>, and <see cref="Labels"/> int64 [N] in 0..9.
/// On a GPU the set moves there whole when <see cref="Placement"/> (Data:Placement) says so.
/// </summary>
internal sealed class ImageClassificationSet : IMicroBatchSource, IDevicePlacement, IDisposable
{
    public const int ClassCount = 10;
    public static readonly string[] Placements = ["auto", "host", "device"];

    private ImageClassificationSet(Tensor images, Tensor labels)
    {
        Images = images;
        Labels = labels;
    }

    public Tensor Images { get; private set; }
    public Tensor Labels { get; private set; }
    public long Count => Labels.shape[0];

    /// <summary>Data:Placement: auto, host or device.</summary>
    public string Placement { get; set; } = "auto";

    public MicroBatchTensors MicroBatch(long[] indices)
    {
        Tensor index = tensor(indices);
        if (Images.device_type != DeviceType.CPU)
            index = index.pin_memory().to(Images.device, non_blocking: true);
        return (Images.index_select(0, index), Labels.index_select(0, index));
    }

    /// <summary>
    /// Moves the set to a GPU when Data:Placement is device, or auto and the set takes under a quarter
    /// of the GPU's free memory (the rest is the model's, its activations' and the optimizer's).
    /// </summary>
    public void PlaceOn(Device device)
    {
        if (device.type != DeviceType.CUDA || Placement == "host")
            return;
        long bytes = Images.numel() * Images.element_size() + Labels.numel() * Labels.element_size();
        if (Placement == "auto" && bytes > CudaRuntime.FreeBytes(device.index) / 4)
            return;
        (Tensor images, Tensor labels) = (Images, Labels);
        (Images, Labels) = (images.to(device), labels.to(device));
        images.Dispose();
        labels.Dispose();
    }

    /// <summary>One image's shape: <see cref="Images"/> is [Count, Channels, Height, Width].</summary>
    public ImageShape Shape => new((int)Images.shape[1], (int)Images.shape[2], (int)Images.shape[3]);

    /// <summary>
    /// The train or test split of mnist, fashion-mnist, cifar10 (from <paramref name="dataDir"/>,
    /// which holds the mnist/, fashion-mnist/ and cifar10/ folders scripts/fetch-data.sh writes) or
    /// synthetic (generated from <paramref name="seed"/>, which the real data sets ignore).
    /// </summary>
    public static ImageClassificationSet Load(string name, string dataDir, bool train, long seed) => name switch
    {
        "mnist" => FromIdxFiles(name, dataDir, train, PixelStatistics.Mnist),
        "fashion-mnist" => FromIdxFiles(name, dataDir, train, PixelStatistics.FashionMnist),
        "cifar10" => Cifar10Binary.Load(dataDir, train),
        "synthetic" => SyntheticImages.Generate(train ? SyntheticImages.DefaultTrainCount : SyntheticImages.DefaultTestCount, train, seed),
        _ => throw new ArgumentException($"unknown data set '{name}': expected mnist, fashion-mnist, cifar10 or synthetic", nameof(name)),
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
        return FromPixels(images.Pixels, labels, (1, images.Rows, images.Columns), statistics);
    }

    /// <summary>
    /// Bytes to tensors: pixels [N · channels · height · width], each image's channels one after
    /// the other and each channel row-major; labels [N] already checked to lie in 0..9.
    /// </summary>
    public static ImageClassificationSet FromPixels(byte[] pixels, byte[] labels, (int Channels, int Height, int Width) shape,
        PixelStatistics statistics)
    {
        var (channels, height, width) = shape;
        if (channels != statistics.Channels)
            throw new ArgumentException($"images of {channels} channels, statistics of {statistics.Channels}", nameof(statistics));
        if (pixels.LongLength != (long)labels.Length * channels * height * width)
            throw new ArgumentException($"{pixels.LongLength} pixel bytes are not {labels.Length} images of {channels} × {height} × {width}", nameof(pixels));

        using var rawImages = torch.tensor(pixels, [labels.Length, channels, height, width]);
        using var rawLabels = torch.tensor(labels, [labels.Length]);
        return new ImageClassificationSet(statistics.Normalise(rawImages), rawLabels.to_type(ScalarType.Int64));
    }

    public void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
    }
}
