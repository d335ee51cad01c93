namespace HpcAdam.Tests;

/// <summary>A test class whose every test gets a fresh, empty folder, deleted with all it holds afterwards.</summary>
public abstract class TemporaryDirectoryTest(string prefix)
{
    protected string TestDirectory { get; private set; } = "";

    [SetUp]
    public void CreateTestDirectory() => TestDirectory = Directory.CreateTempSubdirectory(prefix).FullName;

    [TearDown]
    public void DeleteTestDirectory() => Directory.Delete(TestDirectory, recursive: true);
}
