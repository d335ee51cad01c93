using HpcAdam.Trainer.Data;

namespace HpcAdam.Tests.Data;

/// <summary>The IDX reader on small files written in a temporary folder: the good case and every way a file can be wrong.</summary>
public sealed class IdxFileTests
{
    private const string Remedy = "run scripts/fetch-data.sh mnist";
    private string _directory = "";
    private string _path = "";

    [SetUp]
    public void CreateDirectory()
    {
        _directory = Directory.CreateTempSubdirectory("hpcadam-idx-").FullName;
        _path = Path.Combine(_directory, "images-idx3-ubyte");
    }

    [TearDown]
    public void DeleteDirectory() => Directory.Delete(_directory, recursive: true);

    [Test]
    public void AnImageFileReadsBackItsDimensionsAndPixelsInOrder()
    {
        byte[] pixels = Enumerable.Range(0, 2 * 3 * 4).Select(i => (byte)(10 * i)).ToArray();
        IdxBytes.WriteImages(_path, rows: 3, columns: 4, pixels);

        IdxImages images = IdxFile.ReadImages(_path, Remedy);

        Assert.That((images.Count, images.Rows, images.Columns), Is.EqualTo((2, 3, 4)));
        Assert.That(images.Pixels, Is.EqualTo(pixels));
    }

    [Test]
    public void ALabelFileReadsBackItsLabels()
    {
        IdxBytes.WriteLabels(_path, [5, 0, 4, 1, 9]);
        Assert.That(IdxFile.ReadLabels(_path, Remedy), Is.EqualTo(new byte[] { 5, 0, 4, 1, 9 }));
    }

    [Test]
    public void AMissingFileIsNamedWithTheRemedy()
    {
        var error = Assert.Throws<DataFileException>(() => IdxFile.ReadImages(_path, Remedy));
        Assert.That(error!.Message, Is.EqualTo($"{_path}: no such file; {Remedy}"));
    }

    [TestCase(0x00000801u, new uint[] { 1, 2, 2 }, 4, "magic number 0x00000801, expected 0x00000803 for IDX images [count, rows, columns]")]
    [TestCase(0x1f8b0808u, new uint[] { 1, 2, 2 }, 4, "(it is gzip-compressed: gunzip it first)")]
    [TestCase(0x00000803u, new uint[] { 3, 2, 2 }, 11, "truncated: header dimensions [3, 2, 2] need 28 bytes, the file has 27")]
    [TestCase(0x00000803u, new uint[] { 3, 2, 2 }, 13, "longer than its header says: header dimensions [3, 2, 2] need 28 bytes, the file has 29")]
    [TestCase(0x00000803u, new uint[] { 0, 28, 28 }, 0, "header dimensions [0, 28, 28] include a zero")]
    [TestCase(0x00000803u, new uint[] { 60000, 0, 28 }, 0, "header dimensions [60000, 0, 28] include a zero")]
    [TestCase(0x00000803u, new uint[] { 1, 65536, 65536 }, 4, "header dimensions [1, 65536, 65536] are too large to be real")]
    [TestCase(0x00000803u, new uint[] { 4000000000, 28, 28 }, 4, "header dimensions [4000000000, 28, 28] are too large to be real")]
    [TestCase(0x00000803u, new uint[] { 1 }, 0, "8 bytes, shorter than the 16-byte IDX header of images")]
    public void ABrokenImageFileIsRejectedSayingWhatIsWrong(uint magic, uint[] dimensions, int payloadBytes, string problem)
    {
        IdxBytes.Write(_path, magic, dimensions, new byte[payloadBytes]);

        var error = Assert.Throws<DataFileException>(() => IdxFile.ReadImages(_path, Remedy));

        Assert.That(error!.Path, Is.EqualTo(_path));
        Assert.That(error.Message, Does.StartWith($"{_path}: ").And.Contain(problem).And.EndWith($"; {Remedy}"));
        Assert.That(error.Message, Does.Not.Contain('\n'));
    }
}
