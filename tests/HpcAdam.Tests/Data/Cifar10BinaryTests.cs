using HpcAdam.Trainer.Models;
using HpcAdam.Trainer.Data;
using TorchSharp;
using static HpcAdam.Tests.Data.Cifar10Bytes;

namespace HpcAdam.Tests.Data;

/// <summary>
/// CIFAR-10 binary batches written byte by byte into a temporary data folder laid out as
/// scripts/fetch-data.sh extracts them: small files of 2 records, and one of the real 10,000.
/// </summary>
public sealed class Cifar10BinaryTests() : TemporaryDirectoryTest("hpcadam-cifar10-")
{
    private static readonly double[] s_mean = [0.4914, 0.4822, 0.4465];
    private static readonly double[] s_std = [0.2470, 0.2435, 0.2616];

    private string BatchFile(string file) => Cifar10Bytes.BatchFile(TestDirectory, file);

    private void WriteBatch(string file, params byte[][] records) => Cifar10Bytes.WriteBatch(TestDirectory, file, records);

    private void WriteTrainSplit()
    {
        for (int batch = 1; batch <= 5; batch++)
            WriteBatch($"data_batch_{batch}.bin", Record((byte)(2 * batch - 2), red: (byte)batch), Record((byte)(2 * batch - 1)));
    }

    private static float Normalised(byte pixel, int channel) => (float)((pixel / 255.0 - s_mean[channel]) / s_std[channel]);

    [Test]
    public void EachColourPlaneLandsInItsChannelRowMajor()
    {
        byte[] record = Record(label: 3);
        record[1 + 0 * Plane + 1 * 32 + 2] = 255;   // red (1, 2)
        record[1 + 1 * Plane + 31 * 32 + 0] = 255;  // green (31, 0)
        record[1 + 2 * Plane + 0 * 32 + 31] = 255;  // blue (0, 31)
        WriteBatch("test_batch.bin", record, Record(label: 8));

        using var set = Cifar10Binary.Load(TestDirectory, train: false, recordsPerFile: 2);

        Assert.That(set.Images.shape, Is.EqualTo(new long[] { 2, 3, 32, 32 }));
        Assert.That(set.Shape, Is.EqualTo(new ImageShape(3, 32, 32)));
        var expected = new float[2 * 3 * Plane];
        for (int i = 0; i < expected.Length; i++)
            expected[i] = Normalised(0, i / Plane % 3);
        foreach (var (channel, y, x) in new[] { (0, 1, 2), (1, 31, 0), (2, 0, 31) })
            expected[channel * Plane + y * 32 + x] = Normalised(255, channel);
        Assert.That(set.Images.data<float>().ToArray(), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void EachChannelIsNormalisedWithCifar10sOwnMeanAndStd()
    {
        WriteBatch("test_batch.bin", Record(label: 0, red: 0, green: 51, blue: 255));

        using var set = Cifar10Binary.Load(TestDirectory, train: false, recordsPerFile: 1);

        using var channels = set.Images[0].view(3, -1);
        float[] expected = [Normalised(0, 0), Normalised(51, 1), Normalised(255, 2)];
        Assert.That(channels.amin([1]).data<float>().ToArray(), Is.EqualTo(expected).Within(1e-5));
        Assert.That(channels.amax([1]).data<float>().ToArray(), Is.EqualTo(expected).Within(1e-5));
    }

    [Test]
    public void TheTrainSplitIsTheFiveBatchesInOrderWithTheirLabels()
    {
        WriteTrainSplit();

        using var set = Cifar10Binary.Load(TestDirectory, train: true, recordsPerFile: 2);

        Assert.That(set.Count, Is.EqualTo(10));
        Assert.That(set.Labels.dtype, Is.EqualTo(torch.ScalarType.Int64));
        Assert.That(set.Labels.data<long>().ToArray(), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (long)i)));
        // Batch b's first record is red b: the files are read in their numbered order.
        float[] firstRed = [.. Enumerable.Range(1, 5).Select(batch => Normalised((byte)batch, 0))];
        Assert.That(set.Images[torch.TensorIndex.Slice(step: 2), 0, 0, 0].data<float>().ToArray(), Is.EqualTo(firstRed).Within(1e-5));
    }

    [Test]
    public void TheTestSplitOfTenThousandRecordsLoadsByName()
    {
        var bytes = new byte[Cifar10Binary.RecordsPerFile * RecordBytes];
        for (int record = 0; record < Cifar10Binary.RecordsPerFile; record++)
            bytes[record * RecordBytes] = (byte)(record % 10);
        Directory.CreateDirectory(Path.GetDirectoryName(BatchFile("test_batch.bin"))!);
        File.WriteAllBytes(BatchFile("test_batch.bin"), bytes);

        using var set = ImageClassificationSet.Load("cifar10", TestDirectory, train: false, seed: 0);

        Assert.That(set.Images.shape, Is.EqualTo(new long[] { 10000, 3, 32, 32 }));
        using var histogram = torch.bincount(set.Labels, minlength: 10);
        Assert.That(histogram.data<long>().ToArray(), Is.All.EqualTo(1000));
    }

    [Test]
    public void AMissingSplitSaysWhereToGetTheTarballAndHowToExtractIt()
    {
        var error = Assert.Throws<DataFileException>(() => ImageClassificationSet.Load("cifar10", TestDirectory, train: false, seed: 0));

        Assert.That(error!.Message, Is.EqualTo(
            $"{BatchFile("test_batch.bin")}: no such file; get cifar-10-binary.tar.gz (the CIFAR-10 binary version) from " +
            $"https://www.cs.toronto.edu/~kriz/cifar.html, then run scripts/fetch-data.sh cifar10 {TestDirectory} --from PATH/cifar-10-binary.tar.gz"));
    }

    [Test]
    public void AMissingTrainBatchIsNamed()
    {
        WriteTrainSplit();
        File.Delete(BatchFile("data_batch_5.bin"));
        AssertTrainSplitRejected("data_batch_5.bin", "no such file");
    }

    [Test]
    public void ATruncatedBatchIsRejected()
    {
        WriteTrainSplit();
        File.WriteAllBytes(BatchFile("data_batch_3.bin"), new byte[2 * RecordBytes - 1]);
        AssertTrainSplitRejected("data_batch_3.bin", "6145 bytes are not a whole number of 3073-byte records (a label and 3072 pixels): the file is truncated or corrupt");
    }

    [Test]
    public void ABatchOfAnotherRecordCountIsRejected()
    {
        WriteTrainSplit();
        WriteBatch("data_batch_2.bin", Record(0), Record(1), Record(2));
        AssertTrainSplitRejected("data_batch_2.bin", "3 records, expected 2");
    }

    [Test]
    public void ALabelOutsideZeroToNineIsRejectedNamingItsRecord()
    {
        WriteTrainSplit();
        WriteBatch("data_batch_4.bin", Record(9), Record(10));
        AssertTrainSplitRejected("data_batch_4.bin", "label 10 of record 1 is outside 0..9");
    }

    private void AssertTrainSplitRejected(string file, string problem)
    {
        var error = Assert.Throws<DataFileException>(() => Cifar10Binary.Load(TestDirectory, train: true, recordsPerFile: 2));

        Assert.That(error!.Path, Is.EqualTo(BatchFile(file)));
        Assert.That(error.Message, Does.StartWith($"{BatchFile(file)}: {problem}; get cifar-10-binary.tar.gz ")
            .And.EndWith($"scripts/fetch-data.sh cifar10 {TestDirectory} --from PATH/cifar-10-binary.tar.gz"));
        Assert.That(error.Message, Does.Not.Contain('\n'));
    }
}
