using System.Globalization;
using HpcAdam.Trainer.Sweep;

namespace HpcAdam.Tests.Sweep;

/// <summary>The sweep's arithmetic on curves written by hand: windowed train losses, gaps and the critical learning rate.</summary>
public sealed class InvarianceGapTests() : TemporaryDirectoryTest("hpcadam-gap-")
{
    [Test]
    public void WindowsGapsAndTheCriticalLearningRateAreTheHandComputedOnes()
    {
        // κ = 1 takes 10 samples a step, κ = 2 takes 20; both evaluate at 20 and 40 samples.
        // Windows of κ = 1: mean(1.0, 0.8) = 0.9 and mean(0.6, 0.4) = 0.5.
        RunCurve[] curves =
        [
            Curve("adam", 1e-3, kappa: 1, [1.0, 0.8, 0.6, 0.4]),
            Curve("adam", 1e-3, kappa: 2, [0.945, 0.6]),     // |0.945 − 0.9|/0.9 = 0.05, |0.6 − 0.5|/0.5 = 0.2
            Curve("bsi-adam", 1e-3, kappa: 1, [1.0, 0.8, 0.6, 0.4]),
            Curve("bsi-adam", 1e-3, kappa: 2, [0.9, 0.52]),  // 0 and 0.04
            Curve("bsi-adam", 1e-2, kappa: 1, [1.0, 0.8, 0.6, 0.4]),
            Curve("bsi-adam", 1e-2, kappa: 2, [0.9, 0.5], diverged: true),
        ];
        Assert.That(curves[0].Points.Select(point => point.TrainLoss), Is.EqualTo(new[] { 0.9, 0.5 }).Within(1e-12));
        Assert.That(curves[0].Points.Select(point => point.Samples), Is.EqualTo(new long[] { 20, 40 }));

        List<GapRow> gaps = InvarianceGap.Measure(curves);
        Assert.That(gaps.Single(row => row.Optimizer == "adam").Gap, Is.EqualTo(0.2).Within(1e-12));
        Assert.That(gaps.Single(row => row.Optimizer == "bsi-adam" && row.Lr == 1e-3).Gap, Is.EqualTo(0.04).Within(1e-12));
        Assert.That(gaps.Single(row => row.Optimizer == "bsi-adam" && row.Lr == 1e-2).Gap, Is.EqualTo(double.PositiveInfinity));
        Assert.That(InvarianceGap.CriticalLearningRate(gaps, threshold: 0.1), Is.EqualTo(1e-3));
        Assert.That(InvarianceGap.CriticalLearningRate(gaps, threshold: 0.03), Is.Null);
    }

    /// <summary>A run folder holding a metrics.jsonl of the given step losses, evaluated at 20 and 40 samples.</summary>
    private RunCurve Curve(string optimizer, double lr, int kappa, double[] losses, bool diverged = false)
    {
        var run = new SweepRun(optimizer, optimizer == "adam" ? "sqrt" : "linear", lr, kappa, string.Create(CultureInfo.InvariantCulture, $"{optimizer}-{lr}-{kappa}"));
        string folder = Path.Combine(TestDirectory, run.Name);
        Directory.CreateDirectory(folder);
        var lines = new List<string>();
        for (int step = 1; step <= losses.Length; step++)
        {
            long samples = 10L * kappa * step;
            lines.Add(string.Create(CultureInfo.InvariantCulture, $$"""{"event":"step","step":{{step}},"samples":{{samples}},"loss":{{losses[step - 1]}}}"""));
            if (samples % 20 == 0)
                lines.Add(string.Create(CultureInfo.InvariantCulture, $$"""{"event":"eval","step":{{step}},"samples":{{samples}},"test_loss":1,"test_accuracy":0.5}"""));
        }
        File.WriteAllLines(Path.Combine(folder, "metrics.jsonl"), lines);
        if (diverged)
            File.WriteAllText(Path.Combine(folder, SweepCommand.DivergedFile), "diverged\n");
        return SweepCurves.Read(run, folder);
    }
}
