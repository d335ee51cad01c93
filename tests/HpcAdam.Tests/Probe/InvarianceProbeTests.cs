using System.Text.Json;
using HpcAdam.Trainer.Probe;

namespace HpcAdam.Tests.Probe;

/// <summary>`hpcadam invariance-probe` on the embedded synthetic data, alone and under mpirun -np 2.</summary>
public sealed class InvarianceProbeTests() : TemporaryDirectoryTest("hpcadam-probe-")
{
    private static readonly string[] s_small =
        ["invariance-probe", "--data", "synthetic", "--hidden", "32", "--warmup", "32", "--micro-batches", "16", "--kappas", "1,4,16", "--lrs", "1e-4,1e-2"];

    [Test]
    public void BsiAdamStaysCloserToMicroAdamThanStandardAdamAndTwoRanksAgreeWithOne()
    {
        string alone = Path.Combine(TestDirectory, "alone.json"), twoRanks = Path.Combine(TestDirectory, "two.json");
        ProcessOutcome single = ChildProcess.RunAlone([.. s_small, "--json", alone]);
        ProcessOutcome parallel = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, [.. s_small, "--json", twoRanks]);
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
            // The ranks share each step's micro-batches; only the summation order differs.
            foreach (var (key, value) in one)
                Assert.That(two[key], Is.EqualTo(value).Within(1e-3 + 1e-2 * value), key.ToString());
        });
    }

    [TestCase("--kappas", "3", "must be a positive multiple of every κ")]
    [TestCase("--lrs", "0", "--lrs must list positive base learning rates")]
    [TestCase("--kappas", "one", "take comma-separated numbers")]
    public void BadSettingsAreOneLineUsageErrors(string option, string value, string message)
    {
        ProcessOutcome outcome = ChildProcess.RunAlone(["invariance-probe", "--data", "synthetic", option, value]);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr.Trim(), Does.Contain(message).And.Not.Contain("\n"));
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
