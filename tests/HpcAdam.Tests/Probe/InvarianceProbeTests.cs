using System.Text.Json;
using HpcAdam.Trainer.Probe;

namespace HpcAdam.Tests.Probe;

/// <summary>`hpcadam invariance-probe` on the embedded synthetic data, alone and under mpirun -np 2.</summary>
public sealed class InvarianceProbeTests() : TemporaryDirectoryTest("hpcadam-probe-")
{
    private static readonly string[] s_small =
        ["invariance-probe", "--Data:Name=synthetic", "--Model:Hidden=32", "--Probe:Warmup=32", "--Probe:MicroBatches=16", "--Sweep:Lrs=1e-4,1e-2"];

    [Test]
    public void BsiAdamStaysCloserToMicroAdamThanStandardAdamAndTwoRanksAgreeWithOne()
    {
        // The grid from a configuration file, the rest from arguments: the same layers as hpcadam train.
        string config = Path.Combine(TestDirectory, "grid.json");
        File.WriteAllText(config, """{ "Sweep": { "Kappas": "1,4,16" } }""");
        string alone = Path.Combine(TestDirectory, "alone.json"), twoRanks = Path.Combine(TestDirectory, "two.json");
        ProcessOutcome single = ChildProcess.RunAlone([.. s_small, "--config", config, "--json", alone]);
        ProcessOutcome parallel = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, [.. s_small, "--config", config, "--json", twoRanks]);
        Assert.That(single.ExitCode, Is.Zero, single.ToString());
        Assert.That(parallel.ExitCode, Is.Zero, parallel.ToString());
        Assert.That(single.Stdout, Does.Contain("critical learning rate: "));

        Dictionary<(string, double, int), double> one = Discrepancies(alone), two = Discrepancies(twoRanks);
        Assert.Multiple(() =>
        {
            // κ = 1 with the linear rule is Micro-Adam itself.
            Assert.That(one[("bsi-adam", 1e-4, 1)], Is.Zero);
            foreach (int kappa in new[] { 1, 4 })
                Assert.That(one[("bsi-adam", 1e-4, kappa)], Is.LessThan(one[("adam", 1e-4, kappa)] / 10), $"κ = {kappa}");
            // The ranks share each step's micro-batches; only the summation order differs (measured: 4e-7 relative at most).
            foreach (var (key, value) in one)
                Assert.That(two[key], Is.EqualTo(value).Within(1e-4 * value), key.ToString());
        });
    }

    [TestCase("--Sweep:Kappas=3", "Probe:MicroBatches = 16 must be a positive multiple of every κ in Sweep:Kappas (3)")]
    [TestCase("--Sweep:Lrs=0", "Sweep:Lrs = '0' must be comma-separated positive numbers")]
    [TestCase("--Sweep:Kappas=one", "Sweep:Kappas = 'one' must be comma-separated positive numbers")]
    [TestCase("--Probe:Warmup=-1", "Probe:Warmup = -1 must be 0 or more")]
    [TestCase("--Optimizer:Gamma1=2", "Optimizer:Gamma1 = 2 must lie in (0, 1)")]
    [TestCase("--Model:Name=vit", "Model:PatchSize = 5 must divide")]
    [TestCase("--Probe:Warmpu=3", "unknown configuration key Probe:Warmpu (from --Probe:Warmpu): did you mean Probe:Warmup?")]
    public void BadSettingsAreOneLineUsageErrors(string argument, string message)
    {
        ProcessOutcome outcome = ChildProcess.RunAlone(["invariance-probe", "--Data:Name=synthetic", "--Probe:MicroBatches=16", "--Sweep:Kappas=1,4", "--Model:PatchSize=5", argument]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr.Trim(), Does.StartWith("hpcadam invariance-probe: " + message).And.Not.Contain("\n"));
    }

    [Test]
    public void TheCriticalLearningRateIsTheLargestUpToWhichEveryKappaStaysUnderTheThreshold()
    {
        InvarianceProbe.Run Bsi(double rate, int kappa, double discrepancy) => new("bsi-adam", "linear", rate, kappa, discrepancy);
        InvarianceProbe.Run[] runs =
        [
            Bsi(1e-4, 2, 0.01), Bsi(1e-4, 4, 0.02),
            Bsi(1e-3, 2, 0.05), Bsi(1e-3, 4, 0.09),
            Bsi(1e-2, 2, 0.05), Bsi(1e-2, 4, 0.20),   // fails at κ = 4
            Bsi(1e-1, 2, 0.01), Bsi(1e-1, 4, 0.01),   // passes, but above a failure
            new("adam", "sqrt", 1e-1, 2, 0.0),
        ];
        Assert.That(InvarianceProbe.CriticalLearningRate(runs, 0.1), Is.EqualTo(1e-3));
        Assert.That(InvarianceProbe.CriticalLearningRate(runs, 0.005), Is.Null);
    }

    private static Dictionary<(string, double, int), double> Discrepancies(string file) =>
        JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("runs").EnumerateArray().ToDictionary(
            run => (run.GetProperty("optimizer").GetString()!, run.GetProperty("lr").GetDouble(), run.GetProperty("kappa").GetInt32()),
            run => run.GetProperty("discrepancy").GetDouble());
}
