using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Data;

/// <summary>The .npy writer and reader: what numpy.save writes, every version numpy writes, and the files they must refuse.</summary>
[TestFixture]
public sealed class NpyFileTests() : TemporaryDirectoryTest("hpcadam-npy-")
{
    public static IEnumerable<TestCaseData> Arrays()
    {
        yield return new TestCaseData(ScalarType.Float32, new long[] { 5, 3 }).SetName("A float32 matrix round-trips");
        yield return new TestCaseData(ScalarType.Byte, new long[] { 4, 1, 28, 28 }).SetName("uint8 images round-trip");
        yield return new TestCaseData(ScalarType.Int64, new long[] { 7 }).SetName("int64 labels round-trip");
        yield return new TestCaseData(ScalarType.Float32, new long[] { 0, 2 }).SetName("An array of no rows round-trips");
    }

    [TestCaseSource(nameof(Arrays))]
    public void WhatTheWriterWritesTheReaderReadsBackRowByRow(ScalarType type, long[] shape)
    {
        string path = Path.Combine(TestDirectory, "array.npy");
        using Tensor array = arange(shape.Aggregate(1L, (a, b) => a * b), ScalarType.Int64).remainder(251).to_type(type).reshape(shape);
        if (type == ScalarType.Float32)
            array.mul_(-0.37f);

        NpyFile.Write(path, array);
        NpyHeader header = NpyFile.ReadHeader(path);
        Assert.That((header.DType, header.Shape), Is.EqualTo((type, shape)));
        Assert.That(header.DataOffset % 64, Is.Zero, "numpy aligns the data to 64 bytes");

        using var reader = new NpyRowReader(path);
        long[] backwards = [.. Enumerable.Range(0, (int)shape[0]).Select(i => shape[0] - 1 - i)];
        using Tensor rows = reader.Read(backwards);
        using Tensor expected = array.flip(0);
        Assert.That(rows.shape, Is.EqualTo(expected.shape));
        Assert.That(rows.bytes.ToArray(), Is.EqualTo(expected.bytes.ToArray()), "the rows read back are not the rows written, in the order asked for");
    }

    [Test]
    public void TheWriterWritesTheBytesNumpySaveWrites()
    {
        // numpy 1.24: np.save(path, np.arange(6, dtype=np.float32).reshape(2, 3)), whose header dict numpy pads
        // to 117 characters and a newline (the data at byte 128).
        string path = Path.Combine(TestDirectory, "numpy.npy");
        using Tensor array = arange(6, ScalarType.Float32).reshape(2, 3);

        NpyFile.Write(path, array);

        byte[] expected = [0x93, .. "NUMPY"u8, 1, 0, 118, 0,
            .. Encoding.Latin1.GetBytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }".PadRight(117) + "\n"),
            .. array.bytes];
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(expected));
    }

    [TestCase(1, TestName = "Version 1.0 is read")]
    [TestCase(2, TestName = "Version 2.0 is read")]
    [TestCase(3, TestName = "Version 3.0 is read")]
    public void EveryVersionNumpyWritesIsRead(int major)
    {
        string path = Path.Combine(TestDirectory, $"v{major}.npy");
        var payload = new byte[2 * 3 * sizeof(long)];
        for (int i = 0; i < 6; i++)
            BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(8 * i), 10L * i - 20);
        NpyBytes.Write(path, NpyBytes.Dict("<i8", "(2, 3)"), payload, major);

        using var reader = new NpyRowReader(path);
        Assert.That(reader.Header.DataOffset % 64, Is.Zero);
        using Tensor rows = reader.Read([1]);
        Assert.That(rows.data<long>().ToArray(), Is.EqualTo(new long[] { 10, 20, 30 }));
    }

    [Test]
    public void AHeaderInAnotherHandsSpellingIsRead()
    {
        // Double quotes, keys in another order, Python 2's long literals, a one-byte type with a byte order.
        string path = Path.Combine(TestDirectory, "python2.npy");
        NpyBytes.Write(path, "{\"shape\": (3L,), \"fortran_order\": False, \"descr\": \"<u1\"}", [7, 8, 9]);

        NpyHeader header = NpyFile.ReadHeader(path);
        Assert.That((header.DType, header.Shape), Is.EqualTo((ScalarType.Byte, new long[] { 3 })));
    }

    public static IEnumerable<TestCaseData> BadFiles()
    {
        yield return Bad("a structured dtype", "structured", NpyBytes.Dict("<f4", "(2,)").Replace("'<f4'", "[('x', '<f4')]"), new byte[8]);
        yield return Bad("version 4.0", "version 4.0", NpyBytes.Dict("<f4", "(2,)"), new byte[8], major: 4);
        yield return Bad("a single value", "single value", NpyBytes.Dict("<f4", "()"), new byte[4]);
        yield return Bad("a header that is not a dict", "cannot be read", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,", new byte[8]);
        yield return Bad("a header without a shape", "no 'shape'", "{'descr': '<f4', 'fortran_order': False, }", new byte[8]);
        yield return Bad("bool", "'|b1' (bool)", NpyBytes.Dict("|b1", "(2,)"), new byte[2]);
        yield return Bad("trailing bytes", "longer than its header says", NpyBytes.Dict("<f4", "(2,)"), new byte[12]);
    }

    private static TestCaseData Bad(string what, string named, string dict, byte[] payload, int major = 1) =>
        new TestCaseData(dict, payload, major, named).SetName($"The reader refuses {what}");

    [TestCaseSource(nameof(BadFiles))]
    public void AFileTheReaderCannotUseIsOneLineNamingItAndTheProblem(string dict, byte[] payload, int major, string named)
    {
        string path = Path.Combine(TestDirectory, "bad.npy");
        NpyBytes.Write(path, dict, payload, major);

        var error = Assert.Throws<DataFileException>(() => NpyFile.ReadHeader(path))!;
        Assert.That(error.Message, Does.StartWith($"{path}: ").And.Contain(named).And.Not.Contain("\n"));
    }

    [Test]
    public void OnlyTheTypesTheReaderReadsAreWritten()
    {
        using Tensor doubles = zeros(3, ScalarType.Float64);
        Assert.That(() => NpyFile.Write(Path.Combine(TestDirectory, "f8.npy"), doubles), Throws.ArgumentException.With.Message.Contains("Float64"));
    }
}
