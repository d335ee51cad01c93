using System.Globalization;
using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Optim;

/// <summary>
/// The paper's Theorems 1 and 2 as measurements in float64 (docs/ALGORITHMS.md): with η = δ·η̄ and
/// γ = δ·γ̄, BSI-Adam's merged steps track Micro-Adam to O(δ) — the relative discrepancy falls
/// about tenfold per tenfold fall of δ — while standard Adam's v does not.
/// </summary>
public sealed class TheoremTests
{
    private const int Kappa = 4;
    private static readonly double[] s_deltas = [1e-2, 1e-3, 1e-4, 1e-5, 1e-6];
    private static readonly string[] s_variables = ["w", "m", "v"];

    private static AdamHyperparameters Reference(double delta) =>
        new(LearningRate: 0.5 * delta, Gamma1: 1.0 * delta, Gamma2: 0.5 * delta, Epsilon: 1e-12);

    [Test]
    public void Theorem1BsiAdamMatchesMicroAdamToFirstOrderInDelta()
    {
        using var problem = new QuadraticMicroBatches(Kappa, dimension: 64, seed: 1);
        double[][] discrepancy = s_deltas.Select(delta =>
        {
            using var micro = problem.Optimizer(OptimizerKind.MicroAdam, Reference(delta), ScalingRule.Linear, delta);
            using var merged = problem.Optimizer(OptimizerKind.BsiAdam, Reference(delta), ScalingRule.Linear, delta);
            QuadraticMicroBatches.Run(micro, problem, 0, Kappa, kappa: 1);
            QuadraticMicroBatches.Run(merged, problem, 0, Kappa, kappa: Kappa);
            return QuadraticMicroBatches.RelativeDiscrepancy(problem.Change(micro), problem.Change(merged));
        }).ToArray();

        Report("Theorem 1, BSI-Adam: ‖ΔX_micro − ΔX_merged‖/‖ΔX_micro‖", discrepancy);
        AssertFirstOrder(discrepancy);
    }

    [Test]
    public void Theorem1StandardAdamsSecondMomentKeepsTheVarianceOfTheMicroBatchGradients()
    {
        using var problem = new QuadraticMicroBatches(Kappa, dimension: 64, seed: 2);
        // The limit docs/ALGORITHMS.md predicts: (Δv_micro − Δv_std)/δ → κ·γ̄2·(mean_k g_k² − ḡ²), at the start.
        using torch.Tensor gradients = torch.stack(Enumerable.Range(0, Kappa).Select(k => problem.Gradient(k, problem.Start[0])).ToArray());
        using torch.Tensor limit = Kappa * 0.5 * (gradients.square().mean([0]) - gradients.mean([0]).square());

        var rows = new List<double[]>();
        foreach (double delta in s_deltas)
        {
            using var micro = problem.Optimizer(OptimizerKind.MicroAdam, Reference(delta), ScalingRule.Linear, delta);
            using var standard = problem.Optimizer(OptimizerKind.Adam, Reference(delta), ScalingRule.Linear, delta);
            QuadraticMicroBatches.Run(micro, problem, 0, Kappa, kappa: 1);
            QuadraticMicroBatches.Run(standard, problem, 0, Kappa, kappa: Kappa);
            using torch.Tensor microChange = problem.Change(micro), standardChange = problem.Change(standard);
            double[] discrepancy = QuadraticMicroBatches.RelativeDiscrepancy(microChange, standardChange);
            using torch.Tensor scaledGap = (microChange[2] - standardChange[2]) / delta;
            double limitError = (scaledGap - limit).norm().item<double>() / limit.norm().item<double>();
            rows.Add([.. discrepancy, limitError]);
        }

        Report("Theorem 1, standard Adam: discrepancy of w, m, v and ‖(Δv_micro − Δv_std)/δ − κγ̄2(mean g² − ḡ²)‖/‖…‖", rows.ToArray(), "limit");
        Assert.Multiple(() =>
        {
            foreach (double[] row in rows)
                Assert.That(row[2], Is.GreaterThan(0.1), "standard Adam's v must not track Micro-Adam's");
            Assert.That(rows[^1][3], Is.LessThan(1e-3), "the gap in Δv/δ tends to κ·γ̄2·(mean g² − ḡ²)");
            Assert.That(rows[^3][3], Is.GreaterThan(rows[^1][3]), "and approaches it as δ falls");
        });
    }

    [Test]
    public void Theorem2BsiAdamIsInvariantToKappaAndStandardAdamWithSqrtScalingIsNot()
    {
        const int microBatches = 16;
        using var problem = new QuadraticMicroBatches(microBatches, dimension: 64, seed: 3);
        double[][] Between(OptimizerKind kind, ScalingRule rule) => s_deltas.Select(delta =>
        {
            using var small = problem.Optimizer(kind, Reference(delta), rule, delta);
            using var large = problem.Optimizer(kind, Reference(delta), rule, delta);
            QuadraticMicroBatches.Run(small, problem, 0, microBatches, kappa: 2);
            QuadraticMicroBatches.Run(large, problem, 0, microBatches, kappa: 8);
            return QuadraticMicroBatches.RelativeDiscrepancy(problem.Change(small), problem.Change(large));
        }).ToArray();

        double[][] bsi = Between(OptimizerKind.BsiAdam, ScalingRule.Linear);
        double[][] standard = Between(OptimizerKind.Adam, ScalingRule.Sqrt);
        Report("Theorem 2, BSI-Adam linear, κ' = 2 vs κ'' = 8 over 16 micro-batches", bsi);
        Report("Theorem 2, standard Adam sqrt, κ' = 2 vs κ'' = 8 over 16 micro-batches", standard);
        AssertFirstOrder(bsi);
        Assert.Multiple(() =>
        {
            foreach (double[] row in standard)
                Assert.That(row.Max(), Is.GreaterThan(0.1), "standard Adam with √κ scaling must not be invariant");
        });
    }

    /// <summary>Each tenfold fall of δ divides every discrepancy by 7 to 13 (about 10), over all four decades.</summary>
    private static void AssertFirstOrder(double[][] discrepancy) => Assert.Multiple(() =>
    {
        for (int i = 1; i < discrepancy.Length; i++)
            for (int x = 0; x < 3; x++)
                Assert.That(discrepancy[i - 1][x] / discrepancy[i][x], Is.InRange(7.0, 13.0),
                    $"{s_variables[x]}: δ {s_deltas[i - 1]} → {s_deltas[i]}");
    });

    private static void Report(string title, double[][] rows, string? extra = null)
    {
        TestContext.Out.WriteLine(title);
        TestContext.Out.WriteLine($"{"δ",8} {"w",12} {"m",12} {"v",12}" + (extra is null ? "" : $" {extra,12}"));
        for (int i = 0; i < rows.Length; i++)
            TestContext.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{s_deltas[i],8:0e0} {string.Join(" ", rows[i].Select(value => value.ToString("0.000e+0", CultureInfo.InvariantCulture).PadLeft(12)))}"));
    }
}
