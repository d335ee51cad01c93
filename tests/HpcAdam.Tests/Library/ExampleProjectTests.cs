using System.Globalization;

namespace HpcAdam.Tests.Library;

/// <summary>
/// The examples as a user gets them: the libraries packed by scripts/pack.sh into a folder (once, with
/// a version no earlier test packed, so no package cache can hand them an older build), each example
/// copied out of the repository and built against those packages alone, then trained on 2 ranks
/// under mpirun: killed after a checkpoint and resumed with --Run:Resume=latest, it ends bit-identical
/// with a run that was never interrupted. examples/sequence-classifier is a model of one input;
/// examples/token-tagger one of two (tokens and a padding mask) with a token-level loss and loss units.
/// </summary>
[TestFixture]
public sealed class ExampleProjectTests() : TemporaryDirectoryTest("hpcadam-example-")
{
    private static readonly TimeSpan s_buildDeadline = TimeSpan.FromMinutes(10);
    private string _version = "", _feed = "";

    [OneTimeSetUp]
    public void PackTheLibraries()
    {
        _version = string.Create(CultureInfo.InvariantCulture, $"0.1.0-test.{DateTime.UtcNow:yyyyMMddHHmmssfff}");
        _feed = Directory.CreateTempSubdirectory("hpcadam-feed-").FullName;
        ProcessOutcome pack = ChildProcess.Run(Path.Combine(ChildProcess.RepoRoot, "scripts", "pack.sh"), [_version],
            new Dictionary<string, string> { ["HPCADAM_PACKAGE_DIR"] = _feed }, s_buildDeadline);
        Assert.That(pack.ExitCode, Is.Zero, pack.ToString());
        Assert.That(Directory.GetFiles(_feed, "*.nupkg").Select(Path.GetFileName),
            Is.EquivalentTo(new[] { "HpcAdam.Optim", "HpcAdam.Collectives", "HpcAdam.Training" }.Select(name => $"{name}.{_version}.nupkg")));
    }

    // The accuracies after 30 steps, measured: 100% and 95.6% (docs/library.md).
    [TestCase("sequence-classifier", "SequenceClassifier", 0.99, TestName = "TheWaveformExampleBuiltFromThePackagesTrainsOn2RanksAndResumesBitIdentically")]
    [TestCase("token-tagger", "TokenTagger", 0.94, TestName = "TheTokenTaggerOfTwoInputsBuiltFromThePackagesTrainsOn2RanksAndResumesBitIdentically")]
    public void TheExampleBuiltFromThePackagesTrainsOn2RanksAndResumesBitIdentically(string folder, string assembly, double accuracyFloor)
    {
        string example = Path.Combine(TestDirectory, folder);
        CopyExample(Path.Combine(ChildProcess.RepoRoot, "examples", folder), example, _feed);
        ProcessOutcome build = ChildProcess.Run("dotnet", ["build", example, "-c", "Release", "-nologo", "-v", "quiet", $"-p:HpcAdamVersion={_version}"],
            environment: null, s_buildDeadline);
        Assert.That(build.ExitCode, Is.Zero, build.ToString());
        string program = Path.Combine(example, "bin", "Release", "net10.0", $"{assembly}.dll");
        Assert.That(File.Exists(Path.Combine(Path.GetDirectoryName(program)!, "libhpcadam_mpi.so")), Is.True, "the MPI shim was not built for the example");

        string[] settings = ["--Train:Steps=30", "--Checkpoint:Every=10", "--Eval:Every=15"];   // and the example's JSON's
        string whole = Path.Combine(TestDirectory, "whole"), interrupted = Path.Combine(TestDirectory, "interrupted");
        ProcessOutcome uninterrupted = Train(program, [$"--Run:Dir={whole}", .. settings]);
        Assert.That(uninterrupted.ExitCode, Is.Zero, uninterrupted.ToString());
        Assert.That(uninterrupted.Stdout, Does.Contain("after 30 steps on 2 rank(s)"), uninterrupted.ToString());

        // Rank 0 dies at the start of step 16: the checkpoint of step 10 is the newest.
        ProcessOutcome killed = Train(program, [$"--Run:Dir={interrupted}", .. settings], new Dictionary<string, string> { ["HPCADAM_FAULT"] = "kill@0:16" });
        Assert.That(killed.ExitCode, Is.Not.Zero, killed.ToString());
        Assert.That(Directory.GetDirectories(Path.Combine(interrupted, "checkpoints")).Select(Path.GetFileName), Is.EqualTo(new[] { "00000010" }));
        ProcessOutcome resumed = Train(program, [$"--Run:Dir={interrupted}", "--Run:Resume=latest", .. settings]);
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(resumed.Stdout, Does.Contain("resumed from").And.Contain("at step 10"), resumed.ToString());

        foreach (string file in new[] { "model.safetensors", "optimizer.safetensors" })
            Assert.That(File.ReadAllBytes(Path.Combine(interrupted, "checkpoints", "00000030", file)),
                Is.EqualTo(File.ReadAllBytes(Path.Combine(whole, "checkpoints", "00000030", file))), file);
        double accuracy = double.Parse(File.ReadAllLines(Path.Combine(whole, "metrics.jsonl")).Last(line => line.Contains("\"eval\""))
            .Split("\"test_accuracy\":")[1].TrimEnd('}'), CultureInfo.InvariantCulture);
        TestContext.Out.WriteLine($"test accuracy after 30 steps: {accuracy:P2}");
        Assert.That(accuracy, Is.GreaterThanOrEqualTo(accuracyFloor), "the accuracy docs/library.md quotes for 30 steps");
    }

    /// <summary>The packages of this version leave the machine's package cache, and their folder, with the tests.</summary>
    [OneTimeTearDown]
    public void ForgetTheTestPackages()
    {
        if (_feed.Length > 0)
            Directory.Delete(_feed, recursive: true);
        string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        foreach (string name in new[] { "hpcadam.optim", "hpcadam.collectives", "hpcadam.training" })
            if (_version.Length > 0 && Directory.Exists(Path.Combine(cache, name, _version)))
                Directory.Delete(Path.Combine(cache, name, _version), recursive: true);
    }

    private static ProcessOutcome Train(string program, string[] arguments, IDictionary<string, string>? environment = null) =>
        ChildProcess.MpiRun(2, "dotnet", [program, .. arguments], environment, TimeSpan.FromMinutes(5));

    /// <summary>The example's sources, with its nuget.config pointing at <paramref name="feed"/> instead of artifacts/packages.</summary>
    private static void CopyExample(string from, string to, string feed)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from).Where(file => Path.GetFileName(file) != ".gitignore"))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
        string config = Path.Combine(to, "nuget.config");
        File.WriteAllText(config, File.ReadAllText(config).Replace("../../artifacts/packages", feed, StringComparison.Ordinal));
        Assert.That(File.ReadAllText(config), Does.Contain(feed));
    }
}
