using System.Globalization;
using System.Text.Json;
using HpcAdam.Tests.Training;
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
    public void ASweepWritesCurvesGapsTheCriticalLearningRateTheFigureAndTheTableAndSkipsWhatIsComplete()
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
        Assert.That(first.Stdout, Does.Contain("| base lr | adam (sqrt) gap | bsi-adam (linear) gap |"));
        // The gaps and the critical learning rate the sweep reports are those its own curves give.
        (Dictionary<(string, double), double> curveGaps, double? critical) = FromCurves(csv, threshold: 0.1);
        Assert.That(gaps, Is.EqualTo(curveGaps));
        Assert.That(curveGaps.Where(gap => gap.Key.Item1 == "bsi-adam").OrderBy(gap => gap.Key.Item2).Select(gap => gap.Value < 0.1), Is.EqualTo(new[] { true, false }),
            "BSI-Adam's gaps (0.069 and 0.85 when written) must lie on both sides of the threshold, or the critical rate is trivially one end");
        JsonElement report = JsonDocument.Parse(File.ReadAllText(Path.Combine(sweep, "invariance.json"))).RootElement;
        Assert.That(report.GetProperty("threshold").GetDouble(), Is.EqualTo(0.1));
        Assert.That(report.GetProperty("critical_lr").GetDouble(), Is.EqualTo(critical));
        Assert.That(first.Stdout, Does.Contain(FormattableString.Invariant($"critical learning rate: {critical:g4} (the largest base lr whose BSI-Adam gap is under 0.1)")));
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

    /// <summary>
    /// The gaps and the critical learning rate by docs/invariance.md's definitions, from curves.csv alone: for each (optimizer, η0),
    /// the largest |L_B − L_Bmin| / L_Bmin over the larger batch sizes and the points; the largest η0 whose BSI-Adam gap is under the threshold.
    /// </summary>
    private static (Dictionary<(string, double), double> Gaps, double? Critical) FromCurves(string[] csv, double threshold)
    {
        var points = csv.Skip(1).Select(line => line.Split(',')).Select(field => (Optimizer: field[0], Lr: double.Parse(field[2], CultureInfo.InvariantCulture),
            Kappa: int.Parse(field[3], CultureInfo.InvariantCulture), Samples: long.Parse(field[5], CultureInfo.InvariantCulture), Loss: double.Parse(field[6], CultureInfo.InvariantCulture)));
        Dictionary<(string, double), double> gaps = points.GroupBy(point => (point.Optimizer, point.Lr)).ToDictionary(group => group.Key, group =>
        {
            int smallest = group.Min(point => point.Kappa);
            Dictionary<long, double> reference = group.Where(point => point.Kappa == smallest).ToDictionary(point => point.Samples, point => point.Loss);
            return group.Where(point => point.Kappa != smallest).Max(point => Math.Abs(point.Loss - reference[point.Samples]) / reference[point.Samples]);
        });
        double? critical = gaps.Where(gap => gap.Key.Item1 == "bsi-adam" && gap.Value < threshold).Select(gap => (double?)gap.Key.Item2).Max();
        return (gaps, critical);
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
        string sweep = Path.Combine(TestDirectory, "mnist");
        Dictionary<(string, double), double> gaps = MnistSweep(sweep);
        double smallest = gaps.Keys.Min(key => key.Item2);
        Assert.That(gaps[("bsi-adam", smallest)], Is.LessThanOrEqualTo(gaps[("adam", smallest)] / 2));
        Assert.That(File.Exists(Path.Combine(sweep, "curves.csv")) && File.Exists(Path.Combine(sweep, "invariance.png")), Is.True);
    }

    /// <summary>
    /// The MNIST example at its critical learning rate, 1e-3, over 24,000 samples, with a cosine schedule and a warm-up of
    /// 2,400 samples: the same function of the samples seen in every run, so BSI-Adam's curves stay together. With a
    /// constant learning rate the same sweep's BSI-Adam gap is 0.0499 (docs/invariance.md); with the schedule it must
    /// not be larger.
    /// </summary>
    [Test]
    public void OnMnistWithACosineScheduleBsiAdamStaysInvariant()
    {
        string sweep = Path.Combine(TestDirectory, "cosine");
        Dictionary<(string, double), double> gaps = MnistSweep(sweep,
            "--Sweep:Lrs=1e-3", "--Sweep:Samples=24000", "--Sweep:EvalEverySamples=4000", "--Optimizer:Schedule=cosine", "--Optimizer:WarmupSamples=2400");
        Assert.That(gaps[("bsi-adam", 1e-3)], Is.LessThan(0.05));
        Assert.That(gaps[("adam", 1e-3)], Is.GreaterThan(10 * gaps[("bsi-adam", 1e-3)]));
        // Every run followed the schedule: 2,400 samples of warm-up, then down to 0 at the 24,000th sample.
        foreach (string run in new[] { "bsi-adam-lr0.001-k1", "bsi-adam-lr0.001-k32" })
        {
            double[] factors = [.. new RunFiles(Path.Combine(sweep, run)).Metrics("step").Select(line => line.GetProperty("lr_factor").GetDouble())];
            Assert.That(factors[0], Is.LessThan(0.2), $"{run}: the warm-up's first step");
            Assert.That(factors.Max(), Is.GreaterThan(0.99), $"{run}: the warm-up's end");
            Assert.That(factors[^1], Is.LessThan(0.01), $"{run}: the last step");
        }
    }

    /// <summary>examples/sweep-mnist-mlp.json with <paramref name="changes"/> into <paramref name="sweep"/>: its gaps, after printing its table.</summary>
    private static Dictionary<(string, double), double> MnistSweep(string sweep, params string[] changes)
    {
        if (!Directory.Exists(Path.Combine(s_dataDir, "mnist")))
            Assert.Fail($"{s_dataDir}/mnist is missing: run scripts/fetch-data.sh mnist (scripts/test.sh does)");
        ProcessOutcome outcome = ChildProcess.Run(ChildProcess.Hpcadam,
            ["sweep", "--config", Path.Combine(ChildProcess.RepoRoot, "examples", "sweep-mnist-mlp.json"), $"--Data:Dir={s_dataDir}", $"--Sweep:Dir={sweep}", .. changes],
            environment: null, TimeSpan.FromMinutes(10));
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        TestContext.Out.WriteLine(outcome.Stdout[outcome.Stdout.IndexOf("== invariance gap", StringComparison.Ordinal)..]);
        return Gaps(sweep);
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
