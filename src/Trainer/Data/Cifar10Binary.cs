namespace HpcAdam.Trainer.Data;

/// <summary>
/// CIFAR-10's binary version, as scripts/fetch-data.sh extracts it to DIR/cifar10/cifar-10-batches-bin:
/// the train split is data_batch_1.bin … data_batch_5.bin, the test split test_batch.bin, each
/// 10,000 records of one label byte (0..9) then 3072 pixel bytes, the red, green and blue 32 × 32
/// planes one after the other, each row-major: already the [channels, height, width] order of a
/// tensor. The files have no header, so a file is checked by its size and every label by its range.
/// </summary>
internal static class Cifar10Binary
{
    public const int RecordsPerFile = 10_000;
    public static readonly (int Channels, int Height, int Width) Shape = (3, 32, 32);
    public static readonly IReadOnlyList<string> TrainFiles = ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"];
    public const string TestFile = "test_batch.bin";

    private const int ImageBytes = 3 * 32 * 32;
    private const int RecordBytes = 1 + ImageBytes;
    private const string TarballPage = "https://www.cs.toronto.edu/~kriz/cifar.html";

    /// <summary>The folder holding the batch files under <paramref name="dataDir"/>.</summary>
    public static string Folder(string dataDir) => Path.Combine(dataDir, "cifar10", "cifar-10-batches-bin");

    /// <summary>The train split (50,000 images) or the test split (10,000), normalised by <see cref="PixelStatistics.Cifar10"/>.</summary>
    public static ImageClassificationSet Load(string dataDir, bool train) => Load(dataDir, train, RecordsPerFile);

    /// <summary>As <see cref="Load(string, bool)"/>, from files of <paramref name="recordsPerFile"/> records each: tests write small ones.</summary>
    public static ImageClassificationSet Load(string dataDir, bool train, int recordsPerFile)
    {
        string[] paths = [.. (train ? TrainFiles : [TestFile]).Select(file => Path.Combine(Folder(dataDir), file))];
        string remedy = $"get cifar-10-binary.tar.gz (the CIFAR-10 binary version) from {TarballPage}, " +
                        $"then run scripts/fetch-data.sh cifar10 {dataDir} --from PATH/cifar-10-binary.tar.gz";
        // Every file's size first: a missing fifth batch is reported before four are read.
        foreach (string path in paths)
            CheckSize(path, recordsPerFile, remedy);

        var labels = new byte[paths.Length * recordsPerFile];
        var pixels = new byte[labels.Length * ImageBytes];
        for (int f = 0; f < paths.Length; f++)
            ReadRecords(paths[f], labels.AsSpan(f * recordsPerFile, recordsPerFile), pixels.AsSpan(f * recordsPerFile * ImageBytes, recordsPerFile * ImageBytes), remedy);
        return ImageClassificationSet.FromPixels(pixels, labels, Shape, PixelStatistics.Cifar10);
    }

    private static void CheckSize(string path, int recordsPerFile, string remedy)
    {
        if (!File.Exists(path))
            throw new DataFileException(path, "no such file", remedy);
        long length = new FileInfo(path).Length;
        if (length % RecordBytes != 0)
            throw new DataFileException(path, $"{length} bytes are not a whole number of {RecordBytes}-byte records (a label and {ImageBytes} pixels): the file is truncated or corrupt", remedy);
        if (length / RecordBytes != recordsPerFile)
            throw new DataFileException(path, $"{length / RecordBytes} records, expected {recordsPerFile}", remedy);
    }

    /// <summary>Streams the records' labels and pixels straight into their places in the split's arrays.</summary>
    private static void ReadRecords(string path, Span<byte> labels, Span<byte> pixels, string remedy)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 20);
        for (int record = 0; record < labels.Length; record++)
        {
            stream.ReadExactly(labels.Slice(record, 1));
            if (labels[record] >= ImageClassificationSet.ClassCount)
                throw new DataFileException(path, $"label {labels[record]} of record {record} is outside 0..{ImageClassificationSet.ClassCount - 1}", remedy);
            stream.ReadExactly(pixels.Slice(record * ImageBytes, ImageBytes));
        }
    }
}
