using ScottPlot;

namespace HpcAdam.Trainer.Sweep;

/// <summary>
/// The sweep laid out like the paper's Fig. 1: standard Adam in the left column, BSI-Adam in the
/// right, rows for train loss, test loss and test accuracy against samples seen; colour is the
/// base learning rate, opacity the batch size (faint = small). Invariance shows as curves of one
/// colour lying on top of each other. Both columns of a row share their y range.
/// </summary>
internal static class SweepFigure
{
    private static readonly ScottPlot.Palettes.Category10 s_palette = new ScottPlot.Palettes.Category10();
    private static readonly (string Label, Func<CurvePoint, double> Value)[] s_rows =
        [("train loss", point => point.TrainLoss), ("test loss", point => point.TestLoss), ("test accuracy", point => point.TestAccuracy)];

    public static void Save(string path, IReadOnlyList<RunCurve> curves, double[] lrs, int[] kappas)
    {
        var figure = new Multiplot();
        figure.AddPlots(2 * s_rows.Length);
        figure.Layout = new ScottPlot.MultiplotLayouts.Grid(rows: s_rows.Length, columns: 2);
        for (int row = 0; row < s_rows.Length; row++)
        {
            (double low, double high) = Range(curves, s_rows[row].Value);
            for (int column = 0; column < 2; column++)
            {
                (string optimizer, string scaling) = SweepPlan.Optimizers[column];
                Plot plot = figure.GetPlot(2 * row + column);
                foreach (RunCurve curve in curves.Where(curve => curve.Run.Optimizer == optimizer))
                {
                    int lrIndex = Array.IndexOf(lrs, curve.Run.Lr), kappaIndex = Array.IndexOf(kappas, curve.Run.Kappa);
                    // A diverged run's non-finite points are left out; its curve ends where it diverged.
                    CurvePoint[] finite = curve.Points.Where(point => double.IsFinite(s_rows[row].Value(point))).ToArray();
                    var line = plot.Add.ScatterLine(finite.Select(point => (double)point.Samples).ToArray(), finite.Select(s_rows[row].Value).ToArray());
                    line.Color = s_palette.GetColor(lrIndex).WithAlpha(0.2 + 0.8 * (kappaIndex + 1) / kappas.Length);
                    line.LineWidth = 1.5f;
                    if (row == 0 && kappaIndex == kappas.Length - 1)
                        line.LegendText = $"η0 = {curve.Run.Lr:g3}";
                }
                plot.Axes.SetLimitsY(low, high);
                plot.XLabel("samples seen");
                plot.YLabel(s_rows[row].Label);
                if (row == 0)
                {
                    plot.Title(optimizer == "adam" ? $"standard Adam ({scaling} rule)" : $"BSI-Adam ({scaling} rule)");
                    plot.ShowLegend(Alignment.UpperRight);
                }
            }
        }
        figure.SavePng(path, 1200, 1200);
    }

    /// <summary>The y range of a row: every curve, but a diverging run may not flatten the rest (losses capped at twice the largest starting loss).</summary>
    private static (double Low, double High) Range(IReadOnlyList<RunCurve> curves, Func<CurvePoint, double> value)
    {
        double[] values = curves.SelectMany(curve => curve.Points.Select(value)).Where(double.IsFinite).ToArray();
        if (values.Length == 0)
            return (0, 1);
        double cap = 2 * curves.Where(curve => curve.Points.Count > 0).Select(curve => value(curve.Points[0])).Where(double.IsFinite).DefaultIfEmpty(values.Max()).Max();
        double low = values.Min(), high = Math.Min(values.Max(), Math.Max(cap, low + 1e-9));
        double margin = 0.05 * Math.Max(high - low, 1e-9);
        return (low - margin, high + margin);
    }
}
