using System.Text.Json;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Sweep;

namespace HpcAdam.Tests.Sweep;

/// <summary>
/// `hpcadam sweep` end to end: the grid's runs, curves.csv, invariance.json, the PNG and the
/// table; a rerun that skips what is complete; refusals of bad settings; and the MNIST example,
/// where BSI-Adam must be invariant and standard Adam not.
/// </summary>
[TestFixture]
public sealed class SweepTests() : TemporaryDirectoryTest("hpcadam-sweep-")
{
    private static readonly string s_dataDir = Path.Combine(ChildProcess.RepoRoot, "data");

    /// <summary>12 runs of 3072 synthetic samples: 2 optimizers × 2 learning rates × κ = 1, 2, 4 over M = 16.</summary>
    private static string[] Tiny(string directory) =>
    [
        "sweep", "--Data:Name=synthetic", "--Batch:MicroBatchSize=16", "--Sweep:Kappas=1,2,4", "--Sweep:Lrs=1e-3,1e-2",
        "--Sweep:Samples=3072", "--Sweep:EvalEverySamples=512", $"--Sweep:Dir={directory}",
    ];

    private static Dictionary<(string, double), double> Gaps(string directory) =>
        JsonDocument.Parse(File.ReadAllText(Path.Combine(directory, "invariance.json"))).RootElement.GetProperty("runs").EnumerateArray()
            .ToDictionary(run => (run.GetProperty("optimizer").GetString()!, run.GetProperty("lr").GetDouble()), run => run.GetProperty("gap").GetDouble());

    [Test]
    public void ASweepWritesCurvesGapsTheFigureAndTheTableAndSkipsWhatIsComplete()
    {
        string sweep = Path.Combine(TestDirectory, "sweep");
        ProcessOutcome first = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, Tiny(sweep));
        Assert.That(first.ExitCode, Is.Zero, first.ToString());

        string[] csv = File.ReadAllLines(Path.Combine(sweep, "curves.csv"));
        Assert.That(csv[0], Is.EqualTo("optimizer,scaling,lr,kappa,batch_size,samples,train_loss,test_loss,test_accuracy"));
        Assert.That(csv, Has.Length.EqualTo(1 + 12 * 6), "12 runs of 6 points each (every 512 of 3072 samples)");
        Assert.That(File.ReadAllBytes(Path.Combine(sweep, "invariance.png")).Take(4), Is.EqualTo(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }));
        Dictionary<(string, double), double> gaps = Gaps(sweep);
        Assert.That(gaps.Keys, Is.EquivalentTo(new[] { ("adam", 1e-3), ("adam", 1e-2), ("bsi-adam", 1e-3), ("bsi-adam", 1e-2) }));
        Assert.That(first.Stdout, Does.Contain("| base lr | adam (sqrt) gap | bsi-adam (linear) gap |").And.Contain("critical learning rate:"));
        Assert.That(JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, "bsi-adam-lr0.01-k4", "metrics.jsonl")).Split('\n')[0])
            .RootElement.GetProperty("world_size").GetInt32(), Is.EqualTo(2), "every run used both ranks");

        // Again: everything is complete. Then with one run unfinished: only that run trains, to the same curves on the same 2 ranks.
        ProcessOutcome second = ChildProcess.RunAlone(Tiny(sweep));
        Assert.That(second.Stdout.Split('\n').Count(line => line.EndsWith(": complete, skipped", StringComparison.Ordinal)), Is.EqualTo(12), second.ToString());
        File.Delete(Path.Combine(sweep, "adam-lr0.001-k2", "summary.json"));
        ProcessOutcome third = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, Tiny(sweep));
        Assert.That(third.ExitCode, Is.Zero, third.ToString());
        Assert.That(third.Stdout, Does.Contain("== run 2/12: adam (sqrt), η0 = 0.001, κ = 2 (B = 32)\n"));
        Assert.That(File.ReadAllLines(Path.Combine(sweep, "curves.csv")), Is.EqualTo(csv), "the redone run trained the same curve");
        Assert.That(third.Stdout.Split('\n').Count(line => line.EndsWith(": complete, skipped", StringComparison.Ordinal)), Is.EqualTo(11));
    }

    [Test]
    public void ARunThatDivergesIsMarkedAndTheSweepGoesOn()
    {
        // Non-finite gradients at steps 2 and 3 of every run, and Train:MaxSkips = 2: every run diverges at step 3.
        string sweep = Path.Combine(TestDirectory, "sweep");
        ProcessOutcome outcome = ChildProcess.RunAlone([.. Tiny(sweep), "--Sweep:Kappas=1,2", "--Sweep:Lrs=1e-3", "--Train:MaxSkips=2"],
            new Dictionary<string, string> { ["HPCADAM_FAULT"] = "nonfinite@0:2,nonfinite@0:3" });
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout.Split('\n').Count(line => line.Contains(": diverged (2 steps in a row", StringComparison.Ordinal)), Is.EqualTo(4), outcome.ToString());
        Assert.That(File.Exists(Path.Combine(sweep, "bsi-adam-lr0.001-k2", "diverged")), Is.True);
        Assert.That(outcome.Stdout, Does.Contain("| 0.001 | diverged | diverged |").And.Contain("critical learning rate: none"));
        JsonElement run = JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, "invariance.json"))).RootElement.GetProperty("runs")[0];
        Assert.That(run.GetProperty("gap").ValueKind, Is.EqualTo(JsonValueKind.Null));
        Assert.That(ChildProcess.RunAlone([.. Tiny(sweep), "--Sweep:Kappas=1,2", "--Sweep:Lrs=1e-3", "--Train:MaxSkips=2"]).Stdout,
            Does.Contain("complete, skipped"), "a diverged run is not trained again");
    }

    [Test]
    public void ASignalStopsTheSweepAndTheSameCommandGoesOn()
    {
        // SIGUSR1 during the first run (as Slurm's --signal sends it): the sweep stops with exit code 0, and goes on later.
        string sweep = Path.Combine(TestDirectory, "sweep");
        string[] small = [.. Tiny(sweep), "--Sweep:Kappas=1,2", "--Sweep:Lrs=1e-3"];
        ProcessOutcome stopped = ChildProcess.RunAlone(small, new Dictionary<string, string> { ["HPCADAM_FAULT"] = "sigusr1@0:3" });
        Assert.That(stopped.ExitCode, Is.Zero, stopped.ToString());
        Assert.That(stopped.Stdout, Does.Contain("== run 1/4: adam (sqrt), η0 = 0.001, κ = 1 (B = 16): stopped by a signal"), stopped.ToString());
        Assert.That(Directory.Exists(Path.Combine(sweep, "adam-lr0.001-k2")) || File.Exists(Path.Combine(sweep, "invariance.json")), Is.False,
            "the sweep went on after the signal");

        ProcessOutcome resumed = ChildProcess.RunAlone(small);
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(File.Exists(Path.Combine(sweep, "invariance.json")), Is.True, resumed.ToString());
    }

    public static IEnumerable<TestCaseData> BadSweeps()
    {
        yield return new TestCaseData(new[] { "--Sweep:Kappas=1,two" }, "Sweep:Kappas").SetName("Sweep refuses a κ that is not a number");
        yield return new TestCaseData(new[] { "--Sweep:Lrs=0" }, "Sweep:Lrs").SetName("Sweep refuses a learning rate of 0");
        yield return new TestCaseData(new[] { "--Sweep:Samples=3000" }, "Sweep:Samples").SetName("Sweep refuses a budget that is not a multiple of B_max");
        yield return new TestCaseData(new[] { "--Sweep:EvalEverySamples=100" }, "Sweep:EvalEverySamples").SetName("Sweep refuses an evaluation interval that is not a multiple of B_max");
        yield return new TestCaseData(new[] { "--Sweep:Lrs=1e-3", "--Optimizer:Gamma1=1.5", "--Sweep:Kappas=1,4" }, "Gamma1")
            .SetName("Sweep refuses rates that no run can use");
    }

    [TestCaseSource(nameof(BadSweeps))]
    public void ABadSweepIsOneLineExitCode2AndWritesNothing(string[] arguments, string named)
    {
        string sweep = Path.Combine(TestDirectory, "bad");
        ProcessOutcome outcome = ChildProcess.RunAlone([.. Tiny(sweep), .. arguments]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr.Trim().Split('\n'), Has.Length.EqualTo(1), outcome.ToString());
        Assert.That(outcome.Stderr, Does.StartWith("hpcadam sweep:").And.Contain(named));
        Assert.That(Directory.Exists(sweep), Is.False, "a refused sweep wrote its folder");
    }

    [Test]
    public void AFolderHoldingAnotherSweepIsRefused()
    {
        string sweep = Path.Combine(TestDirectory, "sweep");
        Assert.That(ChildProcess.RunAlone([.. Tiny(sweep), "--Sweep:Kappas=1,2", "--Sweep:Lrs=1e-3"]).ExitCode, Is.Zero);
        ProcessOutcome outcome = ChildProcess.RunAlone([.. Tiny(sweep), "--Sweep:Kappas=1,2", "--Sweep:Lrs=1e-2"]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("holds a sweep with other settings"));
    }

    [Test]
    public void OnMnistBsiAdamIsInvariantAtTheSmallestLearningRateAndAdamIsNot()
    {
        if (!Directory.Exists(Path.Combine(s_dataDir, "mnist")))
            Assert.Fail($"{s_dataDir}/mnist is missing: run scripts/fetch-data.sh mnist (scripts/test.sh does)");
        string sweep = Path.Combine(TestDirectory, "mnist");
        ProcessOutcome outcome = ChildProcess.Run(ChildProcess.Hpcadam,
            ["sweep", "--config", Path.Combine(ChildProcess.RepoRoot, "examples", "sweep-mnist-mlp.json"), $"--Data:Dir={s_dataDir}", $"--Sweep:Dir={sweep}"],
            environment: null, TimeSpan.FromMinutes(10));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Dictionary<(string, double), double> gaps = Gaps(sweep);
        double smallest = gaps.Keys.Min(key => key.Item2);
        TestContext.Out.WriteLine(outcome.Stdout[outcome.Stdout.IndexOf("== invariance gap", StringComparison.Ordinal)..]);
        Assert.That(gaps[("bsi-adam", smallest)], Is.LessThanOrEqualTo(gaps[("adam", smallest)] / 2));
        Assert.That(File.Exists(Path.Combine(sweep, "curves.csv")) && File.Exists(Path.Combine(sweep, "invariance.png")), Is.True);
    }

    [TestCase("sweep-mnist-mlp.json", 60)]
    [TestCase("sweep-fashion-cnn.json", 36)]
    [TestCase("sweep-cifar10-resnet18-layernorm.json", 48)]
    [TestCase("sweep-cifar10-resnet18-batchnorm.json", 48)]
    [TestCase("sweep-cifar10-vit.json", 48)]
    public void EveryExampleSweepIsAValidPlan(string file, int runs)
    {
        TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(Path.Combine(ChildProcess.RepoRoot, "examples", file), []);
        SweepPlan plan = SweepPlan.From(settings);
        Assert.That(plan.Runs, Has.Count.EqualTo(runs));
        Assert.That(plan.Runs.Select(run => plan.SettingsOf(run).Problem()), Is.All.Null);
    }
}
