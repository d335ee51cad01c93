using System.Globalization;
using System.Text.Json;

namespace HpcAdam.Trainer.Sweep;

/// <summary>The invariance gap of one (optimizer, base learning rate): how far its batch sizes' curves lie from the smallest batch's.</summary>
internal sealed record GapRow(string Optimizer, string Scaling, double Lr, double Gap);

/// <summary>
/// Invariance as a number (the paper's claim, Fig. 1–2): for each optimizer and base learning
/// rate, the gap is the largest |L_B − L_Bmin| / L_Bmin over batch sizes B and over the points
/// of the curve, where L is the windowed train loss (<see cref="SweepCurves"/>) at equal samples
/// seen. The critical learning rate is the largest base learning rate at which BSI-Adam's gap is
/// under the threshold, as the paper's Fig. 2 reads it off. A learning rate at which some batch
/// size diverged has an infinite gap (null in invariance.json, "diverged" in the table).
/// </summary>
internal static class InvarianceGap
{
    private static readonly JsonSerializerOptions s_indented = new() { WriteIndented = true };

    public static List<GapRow> Measure(IReadOnlyList<RunCurve> curves) =>
        curves.GroupBy(curve => (curve.Run.Optimizer, curve.Run.Scaling, curve.Run.Lr))
            .Select(group =>
            {
                RunCurve[] byKappa = group.OrderBy(curve => curve.Run.Kappa).ToArray();
                Dictionary<long, double> reference = byKappa[0].Points.ToDictionary(point => point.Samples, point => point.TrainLoss);
                double gap = byKappa.Skip(1).SelectMany(curve => curve.Points)
                    .Where(point => reference.ContainsKey(point.Samples))
                    .Select(point => Math.Abs(point.TrainLoss - reference[point.Samples]) / reference[point.Samples])
                    .DefaultIfEmpty(0).Max();
                bool diverged = double.IsNaN(gap) || byKappa.Any(curve => curve.Diverged);
                return new GapRow(group.Key.Optimizer, group.Key.Scaling, group.Key.Lr, diverged ? double.PositiveInfinity : gap);
            })
            .OrderBy(row => row.Optimizer).ThenBy(row => row.Lr).ToList();

    /// <summary>The largest base learning rate whose BSI-Adam gap is under <paramref name="threshold"/>; null when none is.</summary>
    public static double? CriticalLearningRate(IEnumerable<GapRow> rows, double threshold) =>
        rows.Where(row => row.Optimizer == "bsi-adam" && row.Gap < threshold).Select(row => (double?)row.Lr).Max();

    public static void WriteJson(string path, List<GapRow> rows, double? criticalLr, double threshold) =>
        AtomicFile.WriteAllText(path, JsonSerializer.Serialize(new
        {
            runs = rows.Select(row => new { optimizer = row.Optimizer, scaling = row.Scaling, lr = row.Lr, gap = double.IsFinite(row.Gap) ? row.Gap : (double?)null }),
            critical_lr = criticalLr,
            threshold,
        }, s_indented));

    /// <summary>One row per base learning rate, standard Adam's gap beside BSI-Adam's.</summary>
    public static void PrintTable(TextWriter output, List<GapRow> rows, double? criticalLr, double threshold)
    {
        output.WriteLine("| base lr | adam (sqrt) gap | bsi-adam (linear) gap |");
        output.WriteLine("|---|---|---|");
        foreach (double lr in rows.Select(row => row.Lr).Distinct().Order())
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {lr:g4} | {Gap(rows, "adam", lr)} | {Gap(rows, "bsi-adam", lr)} |"));
        output.WriteLine(criticalLr is { } critical
            ? string.Create(CultureInfo.InvariantCulture, $"critical learning rate: {critical:g4} (the largest base lr whose BSI-Adam gap is under {threshold:g3})")
            : string.Create(CultureInfo.InvariantCulture, $"critical learning rate: none (no BSI-Adam gap is under {threshold:g3})"));
    }

    private static string Gap(List<GapRow> rows, string optimizer, double lr) =>
        rows.FirstOrDefault(row => row.Optimizer == optimizer && row.Lr == lr) is not { } row ? "-"
        : double.IsFinite(row.Gap) ? row.Gap.ToString("0.0000", CultureInfo.InvariantCulture)
        : "diverged";
}
