using System.Security.Cryptography;
using HpcAdam.Tests.Training;
using HpcAdam.Trainer.Data;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Data;

/// <summary>`hpcadam train --Data:Name=npy`: files it refuses before it starts, and MNIST saved as .npy trained as the IDX files are.</summary>
[TestFixture]
public sealed class NpyTrainingTests() : TemporaryDirectoryTest("hpcadam-npy-train-")
{
    private static readonly string s_dataDir = Path.Combine(ChildProcess.RepoRoot, "data");

    public static IEnumerable<TestCaseData> BadFiles()
    {
        yield return Bad("a file without the magic", "train-inputs.npy: not a .npy file", (inputs, _) => File.WriteAllBytes(inputs, [.. "NUMPY"u8, 1, 0, 0, 0]));
        yield return Bad("Fortran order", "Fortran order", (inputs, _) => NpyBytes.Write(inputs, NpyBytes.Dict("|u1", "(8, 4, 4)", fortranOrder: true), new byte[8 * 16]));
        yield return Bad("float64", "train-inputs.npy: dtype '<f8' (float64) is not supported", (inputs, _) => NpyBytes.Write(inputs, NpyBytes.Dict("<f8", "(8, 4, 4)"), new byte[8 * 16 * 8]));
        yield return Bad("big-endian float32", "dtype '>f4' (float32, big-endian)", (inputs, _) => NpyBytes.Write(inputs, NpyBytes.Dict(">f4", "(8, 4, 4)"), new byte[8 * 16 * 4]));
        yield return Bad("row counts that differ", "train-targets.npy: 7 rows of targets for the 8 rows of inputs", (_, targets) => NpyFile.Write(targets, zeros(7, ScalarType.Int64)));
        yield return Bad("a truncated file", "train-inputs.npy: truncated: uint8 [8, 4, 4] needs", (inputs, _) => File.WriteAllBytes(inputs, File.ReadAllBytes(inputs)[..^5]));
        yield return Bad("a file that does not exist", "Data:TrainInputs = ", (inputs, _) => File.Delete(inputs));
    }

    private static TestCaseData Bad(string what, string named, Action<string, string> damage) =>
        new TestCaseData(damage, named).SetName($"Train refuses an npy set with {what}");

    [TestCaseSource(nameof(BadFiles))]
    public void ABadNpyFileIsOneLineNamingItAndExitCode2(Action<string, string> damage, string named)
    {
        string[] files = WriteSmallSet();
        damage(files[0], files[1]);
        AssertRefused(Settings(files), named);
    }

    [Test]
    public void AMissingPathIsOneLineNamingItsKey()
    {
        string[] files = WriteSmallSet();
        AssertRefused(Settings(files).Where(setting => !setting.StartsWith("--Data:TestTargets", StringComparison.Ordinal)), "Data:TestTargets is not set");
    }

    [Test]
    public void AnNpySetIsNeverPlacedOnTheDeviceWhole() =>
        AssertRefused([.. Settings(WriteSmallSet()), "--Data:Placement=device"], "Data:Placement = device");

    /// <summary>
    /// examples/mnist-mlp.json (2 epochs, 2 ranks) on MNIST saved as .npy by NpyFile.Write from the IDX files
    /// (uint8 images [N, 1, 28, 28]; int64 training labels, uint8 test labels) and with MNIST's pixel
    /// statistics: the same micro-batches of the same floats as the IDX run, so the same weights to the bit.
    /// </summary>
    [Test]
    public void MnistAsNpyTrainsTheExampleMlpTo97PercentWithTheWeightsOfTheIdxFiles()
    {
        if (!Directory.Exists(Path.Combine(s_dataDir, "mnist")))
            Assert.Fail($"{s_dataDir}/mnist is missing: run scripts/fetch-data.sh mnist (scripts/test.sh does)");
        string[] files = Paths();
        WriteMnistSplit("train", files[0], files[1], ScalarType.Int64);
        WriteMnistSplit("t10k", files[2], files[3], ScalarType.Byte);
        string config = Path.Combine(ChildProcess.RepoRoot, "examples", "mnist-mlp.json");

        RunFiles npy = Train("npy", ["--config", config, .. Settings(files), "--Data:PixelMean=0.1307", "--Data:PixelStd=0.3081"]);
        RunFiles idx = Train("idx", ["--config", config, $"--Data:Dir={s_dataDir}"]);

        Assert.That(npy.Summary.GetProperty("test_accuracy").GetDouble(), Is.GreaterThanOrEqualTo(0.97));
        string weights = $"checkpoints/{2 * (60000 / 32) / 4:D8}/model.safetensors";
        Assert.That(Sha256(npy, weights), Is.EqualTo(Sha256(idx, weights)), "the npy run's weights differ from the IDX run's");
    }

    private static void WriteMnistSplit(string split, string inputs, string targets, ScalarType labelType)
    {
        string prefix = Path.Combine(s_dataDir, "mnist", split);
        IdxImages images = IdxFile.ReadImages($"{prefix}-images-idx3-ubyte", "fetch MNIST");
        using Tensor pixels = tensor(images.Pixels, [images.Count, 1, images.Rows, images.Columns]);
        using Tensor labels = tensor(IdxFile.ReadLabels($"{prefix}-labels-idx1-ubyte", "fetch MNIST")).to_type(labelType);
        NpyFile.Write(inputs, pixels);
        NpyFile.Write(targets, labels);
    }

    /// <summary>Inputs, targets, test inputs, test targets: 8 uint8 images of 4 × 4 and their int64 labels, twice.</summary>
    private string[] WriteSmallSet()
    {
        string[] files = Paths();
        using Tensor images = arange(8 * 16, ScalarType.Int64).remainder(256).to_type(ScalarType.Byte).reshape(8, 4, 4);
        using Tensor labels = arange(8, ScalarType.Int64).remainder(3);
        foreach ((string inputs, string targets) in new[] { (files[0], files[1]), (files[2], files[3]) })
        {
            NpyFile.Write(inputs, images);
            NpyFile.Write(targets, labels);
        }
        return files;
    }

    /// <summary>The four files, in the order of <see cref="Settings"/>.</summary>
    private string[] Paths() => [.. new[] { "train-inputs", "train-targets", "test-inputs", "test-targets" }.Select(name => Path.Combine(TestDirectory, $"{name}.npy"))];

    private static string[] Settings(string[] files) =>
        ["--Data:Name=npy", $"--Data:TrainInputs={files[0]}", $"--Data:TrainTargets={files[1]}", $"--Data:TestInputs={files[2]}", $"--Data:TestTargets={files[3]}"];

    private void AssertRefused(IEnumerable<string> settings, string named)
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = ChildProcess.RunAlone(["train", $"--Run:Dir={run}", "--Train:Steps=2", "--Batch:MicroBatchSize=2", .. settings]);
        outcome.AssertOneLineUsageError(named);
        Assert.That(outcome.Stderr, Does.StartWith("hpcadam train: "));
        Assert.That(Directory.Exists(run), Is.False, $"a refused run left {run} behind\n{outcome}");
    }

    private RunFiles Train(string name, string[] arguments)
    {
        string directory = Path.Combine(TestDirectory, name);
        ProcessOutcome outcome = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, ["train", $"--Run:Dir={directory}", .. arguments]);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        return new RunFiles(directory);
    }

    private static string Sha256(RunFiles run, string file) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(Path.Combine(run.Directory, file))));
}
