using System.Security.Cryptography;

namespace HpcAdam.Tests.Data;

/// <summary>
/// scripts/fetch-data.sh cifar10, the paths that need no real tarball: the hint when there is
/// none, the refusal of one with another sum, and a folder it extracted before left alone.
/// </summary>
public sealed class FetchCifar10Tests() : TemporaryDirectoryTest("hpcadam-fetch-cifar10-")
{
    private const string Hint =
        "download cifar-10-binary.tar.gz (the CIFAR-10 binary version) from https://www.cs.toronto.edu/~kriz/cifar.html, " +
        "then run scripts/fetch-data.sh cifar10 ";

    private static readonly string[] s_batchFiles =
        ["data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin", "test_batch.bin"];

    private string DataDir => Path.Combine(TestDirectory, "data");
    private string BatchFolder => Path.Combine(DataDir, "cifar10", "cifar-10-batches-bin");

    private static ProcessOutcome FetchData(params string[] arguments) =>
        ChildProcess.Run("bash", [Path.Combine(ChildProcess.RepoRoot, "scripts", "fetch-data.sh"), .. arguments], null, TimeSpan.FromMinutes(1));

    [Test]
    public void WithoutTheTarballItSaysInOneLineWhereToGetItAndExits2()
    {
        ProcessOutcome outcome = FetchData("cifar10", DataDir);

        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr, Is.EqualTo($"fetch-data: cifar10 cannot be downloaded here: {Hint}{DataDir} --from PATH/cifar-10-binary.tar.gz\n"));
        Assert.That(Directory.Exists(DataDir), Is.False);
    }

    [Test]
    public void ATarballWithAnotherSha256IsRefusedAndNothingIsWritten()
    {
        string tarball = Path.Combine(TestDirectory, "cifar-10-binary.tar.gz");
        File.WriteAllBytes(tarball, [1, 2, 3]);

        ProcessOutcome outcome = FetchData("cifar10", DataDir, "--from", tarball);

        Assert.That(outcome.ExitCode, Is.EqualTo(1), outcome.ToString());
        Assert.That(outcome.Stderr, Does.StartWith($"fetch-data: {tarball} has SHA-256 {Sha256(tarball)}, " +
            "expected c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd").And.EndWith(": nothing written\n"));
        Assert.That(Directory.Exists(DataDir), Is.False);
    }

    [Test]
    public void AFolderWhoseRecordedSumsHoldIsUpToDateAndOneThatChangedIsNot()
    {
        Directory.CreateDirectory(BatchFolder);
        foreach (string file in s_batchFiles)
            File.WriteAllText(Path.Combine(BatchFolder, file), file);
        File.WriteAllLines(Path.Combine(BatchFolder, "SHA256SUMS"), s_batchFiles.Select(file => $"{Sha256(Path.Combine(BatchFolder, file))}  {file}"));

        ProcessOutcome upToDate = FetchData("cifar10", DataDir);
        File.AppendAllText(Path.Combine(BatchFolder, "test_batch.bin"), "changed");
        ProcessOutcome changed = FetchData("cifar10", DataDir);

        Assert.That(upToDate.ExitCode, Is.EqualTo(0), upToDate.ToString());
        Assert.That(upToDate.Stdout, Is.EqualTo($"fetch-data: {BatchFolder}: up to date (SHA-256 checked)\n"));
        Assert.That(changed.ExitCode, Is.EqualTo(2), changed.ToString());
        Assert.That(changed.Stderr, Does.Contain(Hint));
    }

    private static string Sha256(string path) => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(path)));
}
