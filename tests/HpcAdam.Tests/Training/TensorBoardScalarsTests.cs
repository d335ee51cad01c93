using System.Text;
using HpcAdam.Trainer.Training;

namespace HpcAdam.Tests.Training;

/// <summary>
/// The scalars a run writes for TensorBoard, read back by an independent reader of the event file
/// format: every value that can be plotted is there, exact to float precision, and nothing else.
/// </summary>
[TestFixture]
public sealed class TensorBoardScalarsTests() : TemporaryDirectoryTest("hpcadam-tensorboard-")
{
    [Test]
    public void EachFiniteValueIsInTheFileWithItsTagAndStepAndNullOrNonFiniteOnesAreLeftOut()
    {
        var scalars = new TensorBoardScalars(TestDirectory);
        long start = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (int step = 1; step <= 3; step++)
        {
            scalars.Add(step,
            [
                ("loss", 2.3 / step),
                ("lr", step == 2 ? null : 1e-3 * step),
                ("kappa", step == 3 ? double.NaN : 0.0),
                ("gradient_noise_scale", step == 1 ? double.PositiveInfinity : 1e300),   // 1e300 is infinite as a float
                ("test_accuracy", step == 3 ? 0.9731 : null),
            ]);
        }

        // Read with the writer still open: each value is in the file when Add returns.
        TensorBoardEventFile.Contents contents = TensorBoardEventFile.Read(EventFile());
        Assert.That(contents.FileVersion, Is.EqualTo("brain.Event:2"));
        Assert.That(contents.Scalars.Select(scalar => (scalar.Step, scalar.Tag, scalar.Value)), Is.EqualTo(new[]
        {
            (1L, "loss", 2.3f), (1L, "lr", 1e-3f), (1L, "kappa", 0f),
            (2L, "loss", (float)(2.3 / 2)), (2L, "kappa", 0f),
            (3L, "loss", (float)(2.3 / 3)), (3L, "lr", (float)(1e-3 * 3)), (3L, "test_accuracy", 0.9731f),
        }));
        // TorchSharp stamps scalars with whole Unix seconds.
        Assert.That(contents.Scalars.Select(scalar => scalar.WallTime),
            Is.All.InRange(start, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
    }

    [Test]
    public void AStepBeyondInt32IsRefusedAndNothingIsWritten()
    {
        var scalars = new TensorBoardScalars(TestDirectory);
        scalars.Add(int.MaxValue, [("loss", 1.0)]);

        Assert.Throws<ArgumentOutOfRangeException>(() => scalars.Add(int.MaxValue + 1L, [("loss", 2.0)]));
        Assert.That(TensorBoardEventFile.Read(EventFile()).Scalars.Select(scalar => (scalar.Step, scalar.Tag, scalar.Value)),
            Is.EqualTo(new[] { ((long)int.MaxValue, "loss", 1f) }));
    }

    [TestCase(0)]    // the first record's length
    [TestCase(-5)]   // the last record's data, before its CRC
    public void ACorruptedByteFailsTheReadersCrcCheck(int offset)
    {
        new TensorBoardScalars(TestDirectory).Add(1, [("loss", 1.0)]);
        string file = EventFile();
        byte[] bytes = File.ReadAllBytes(file);
        bytes[offset < 0 ? bytes.Length + offset : offset] ^= 0x01;
        File.WriteAllBytes(file, bytes);

        Assert.That(() => TensorBoardEventFile.Read(file), Throws.InstanceOf<InvalidDataException>().With.Message.Contains("CRC"));
    }

    [Test]
    public void TheReadersCrc32CIsTheStandardOne() =>
        Assert.That(TensorBoardEventFile.Crc32C(Encoding.ASCII.GetBytes("123456789")), Is.EqualTo(0xE3069283));

    private string EventFile() => Directory.GetFiles(TestDirectory, "events.out.tfevents.*").Single();
}
