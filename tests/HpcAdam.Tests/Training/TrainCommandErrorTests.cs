using HpcAdam.Tests.Data;

namespace HpcAdam.Tests.Training;

/// <summary>
/// Every bad configuration or data file stops `hpcadam train` before it starts: one line on
/// stderr naming the problem, exit code 2, and no run folder or file left behind.
/// </summary>
[TestFixture]
public sealed class TrainCommandErrorTests() : TemporaryDirectoryTest("hpcadam-train-errors-")
{
    private static readonly Dictionary<string, string> s_noEnvironment = [];

    public static IEnumerable<TestCaseData> BadConfigurations()
    {
        yield return Case("an unknown key", "Optimizer:Lrr", "--Optimizer:Lrr=0.1");
        yield return Case("a value of the wrong type", "Batch:Kappa", "--Batch:Kappa=four");
        yield return Case("an unknown model", "Model:Name", "--Model:Name=resnet50");
        yield return Case("bad MLP widths", "Model:Hidden", "--Model:Hidden=256,,x");
        yield return Case("an unknown data set", "Data:Name", "--Data:Name=imagenet");
        yield return Case("an unknown precision", "Train:Precision", "--Train:Precision=float16");
        yield return Case("an unknown precision of the squares", "Collectives:SquaresPrecision = 'float16' is not a precision", "--Collectives:SquaresPrecision=float16");
        yield return Case("an unknown data placement", "Data:Placement", "--Data:Placement=gpu");
        yield return Case("a negative learning rate", "Optimizer:Lr = -1", "--Optimizer:Lr=-1");
        yield return Case("gamma1 of 1", "Optimizer:Gamma1 = 1", "--Optimizer:Gamma1=1");
        yield return Case("an unknown scaling rule", "Scaling", "--Optimizer:Scaling=cubic");
        yield return Case("an unknown optimizer", "sgd", "--Optimizer:Name=sgd");
        yield return Case("micro-adam with kappa 4", "Batch:Kappa", "--Optimizer:Name=micro-adam", "--Batch:Kappa=4");
        yield return Case("a micro-batch larger than the data set", "Batch:MicroBatchSize", "--Batch:MicroBatchSize=100000");
        yield return Case("no steps at all", "Train:Epochs", "--Train:Epochs=0", "--Train:Steps=0");
        yield return Case("a ViT patch that does not divide the image", "Model:PatchSize", "--Model:Name=vit", "--Model:PatchSize=5");
        yield return Case("a ViT width not divisible by its heads", "Model:Width", "--Model:Name=vit", "--Model:Width=100", "--Model:Heads=3");
        yield return Case("an unknown ResNet norm", "Model:Norm", "--Model:Name=resnet18", "--Model:Norm=groupnorm");
        yield return Case("a negative evaluation interval", "Eval:Every", "--Eval:Every=-1");
        yield return Case("a configuration file that does not exist", "does not exist", "--config", "/nonexistent/hpcadam.json");
        yield return Case("an unknown batch-size test", "Adaptive:Test", "--Adaptive:Test=gradient-diversity");
        yield return Case("a norm test with eta 0", "Adaptive:Eta", "--Adaptive:Test=norm", "--Adaptive:Eta=0");
        yield return Case("a largest kappa below the first", "Adaptive:MaxKappa", "--Adaptive:MaxKappa=2", "--Batch:Kappa=4");
        yield return Case("an adaptive batch of one micro-batch", "Batch:Kappa", "--Adaptive:Test=norm", "--Batch:Kappa=1");
        yield return Case("an adaptive batch with micro-adam", "micro-adam", "--Adaptive:Test=norm", "--Optimizer:Name=micro-adam", "--Batch:Kappa=1");
        yield return Case("gamma1 scaled past 1 by a growing kappa", "Adaptive:MaxKappa", "--Adaptive:Test=norm", "--Adaptive:MaxKappa=64");
        yield return Case("an evaluation batch of 0", "Eval:BatchSize", "--Eval:BatchSize=0");
        yield return Case("an unknown device", "Device:Name", "--Device:Name=tpu");
        yield return Case("CUDA on a build without it", "Device:Name = cuda, but no CUDA device is usable", "--Device:Name=cuda");
        yield return Case("an unknown collectives backend", "Collectives:Backend", "--Collectives:Backend=gloo");
        yield return Case("NCCL for a run on the CPU", "Collectives:Backend = nccl sums tensors on GPUs", "--Collectives:Backend=nccl");
    }

    private static TestCaseData Case(string what, string named, params string[] arguments) =>
        new TestCaseData(arguments, named).SetName($"Train refuses {what}");

    [TestCaseSource(nameof(BadConfigurations))]
    public void ABadConfigurationIsOneLineAndExitCode2(string[] arguments, string named) =>
        AssertRefused(["--Data:Name=synthetic", .. arguments], named, s_noEnvironment);

    [Test]
    public void AnUnknownEnvironmentVariableKeyIsRefused() =>
        AssertRefused(["--Data:Name=synthetic"], "Optimizer:Betas", new Dictionary<string, string> { ["HPCADAM__Optimizer__Betas"] = "0.9" });

    [Test]
    public void AMalformedConfigurationFileIsRefused()
    {
        string config = Path.Combine(TestDirectory, "bad.json");
        File.WriteAllText(config, "{ \"Optimizer\": { \"Lr\": 0.001, } ");
        AssertRefused(["--config", config, "--Data:Name=synthetic"], "cannot be read", s_noEnvironment);
    }

    [Test]
    public void ARunFolderThatAlreadyHoldsARunIsNeverOverwritten()
    {
        string run = Path.Combine(TestDirectory, "run");
        Directory.CreateDirectory(run);
        File.WriteAllText(Path.Combine(run, "config.json"), "{}");
        ProcessOutcome outcome = ChildProcess.RunAlone(["train", "--Data:Name=synthetic", $"--Run:Dir={run}"]);
        AssertOneLineError(outcome, "already holds a run");
        Assert.That(Directory.GetFileSystemEntries(run), Has.Length.EqualTo(1), "the earlier run's folder was changed");
        Assert.That(File.ReadAllText(Path.Combine(run, "config.json")), Is.EqualTo("{}"));
    }

    public static IEnumerable<TestCaseData> BadDataFiles()
    {
        yield return new TestCaseData("missing", "fetch-data.sh").SetName("Train refuses missing MNIST files");
        yield return new TestCaseData("truncated", "train-images").SetName("Train refuses a truncated image file");
        yield return new TestCaseData("label", "label 10").SetName("Train refuses a label out of range");
        yield return new TestCaseData("magic", "train-labels").SetName("Train refuses a file of the wrong IDX type");
        yield return new TestCaseData("count", "labels for the").SetName("Train refuses a label count that does not match the images");
    }

    [TestCaseSource(nameof(BadDataFiles))]
    public void ABadDataFileIsOneLineAndExitCode2(string damage, string named)
    {
        string dataDir = Path.Combine(TestDirectory, "data");
        string mnist = Path.Combine(dataDir, "mnist");
        var pixels = new byte[40 * 28 * 28];
        var labels = Enumerable.Range(0, 40).Select(i => (byte)(i % 10)).ToArray();
        foreach (string split in new[] { "train", "t10k" })
        {
            IdxBytes.WriteImages(Path.Combine(mnist, $"{split}-images-idx3-ubyte"), 28, 28, pixels);
            IdxBytes.WriteLabels(Path.Combine(mnist, $"{split}-labels-idx1-ubyte"), labels);
        }
        string trainImages = Path.Combine(mnist, "train-images-idx3-ubyte"), trainLabels = Path.Combine(mnist, "train-labels-idx1-ubyte");
        switch (damage)
        {
            case "missing":
                File.Delete(trainImages);
                break;
            case "truncated":
                File.WriteAllBytes(trainImages, File.ReadAllBytes(trainImages)[..^100]);
                break;
            case "label":
                labels[7] = 10;
                IdxBytes.WriteLabels(trainLabels, labels);
                break;
            case "magic":
                IdxBytes.WriteImages(trainLabels, 28, 28, pixels);
                break;
            case "count":
                IdxBytes.WriteLabels(trainLabels, labels[..39]);
                break;
        }
        AssertRefused(["--Data:Name=mnist", $"--Data:Dir={dataDir}"], named, s_noEnvironment);
    }

    private void AssertRefused(string[] arguments, string named, Dictionary<string, string> environment)
    {
        string run = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = ChildProcess.RunAlone(["train", $"--Run:Dir={run}", "--Train:Steps=2", .. arguments], environment);
        AssertOneLineError(outcome, named);
        Assert.That(Directory.Exists(run), Is.False, $"a refused run left {run} behind\n{outcome}");
    }

    private static void AssertOneLineError(ProcessOutcome outcome, string named)
    {
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        string[] lines = outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), outcome.ToString());
        Assert.That(lines[0], Does.StartWith("hpcadam train: ").And.Contain(named), outcome.ToString());
    }
}
