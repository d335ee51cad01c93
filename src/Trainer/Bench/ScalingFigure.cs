using System.Globalization;
using ScottPlot;

namespace HpcAdam.Trainer.Bench;

/// <summary>One curve of the scaling figure: its points and their efficiencies, solid or dashed, in a colour of the palette.</summary>
internal sealed record ScalingSeries(string Label, int Colour, bool Dashed, IReadOnlyList<ScalingPoint> Points, IReadOnlyList<double> Efficiencies);

/// <summary>
/// `hpcadam bench scaling --png`: samples/s (left) and efficiency (right) against the rank count, on a
/// log₂ axis so that 1, 2, 4 … 1024 ranks are evenly spaced; measured curves solid, the model's dashed.
/// </summary>
internal static class ScalingFigure
{
    private static readonly ScottPlot.Palettes.Category10 s_palette = new();

    /// <summary>Per mode, the measured curve and the model's, in the mode's colour.</summary>
    public static List<ScalingSeries> Measured(IReadOnlyList<MeasuredRow> rows, ScalingMode[] modes) =>
        modes.SelectMany((mode, colour) =>
        {
            MeasuredRow[] curve = rows.Where(row => row.Measured.Mode == mode.Name).ToArray();
            return new[]
            {
                new ScalingSeries($"{mode.Name}, measured", colour, false, curve.Select(row => row.Measured).ToArray(), curve.Select(row => row.Efficiency).ToArray()),
                new ScalingSeries($"{mode.Name}, model", colour, true, curve.Select(row => row.Predicted).ToArray(), curve.Select(row => row.PredictedEfficiency).ToArray()),
            };
        }).ToList();

    /// <summary>Per mode and squares precision, the projected curve: the mode's colour, bfloat16 squares dashed.</summary>
    public static List<ScalingSeries> Projected(IReadOnlyList<ProjectedRow> rows, ScalingMode[] modes) =>
        rows.GroupBy(row => (row.Squares, row.Point.Mode)).Select(curve => new ScalingSeries($"{curve.Key.Mode}, {curve.Key.Squares} squares",
            Array.FindIndex(modes, mode => mode.Name == curve.Key.Mode), curve.Key.Squares == ScalingBenchOptions.BFloat16,
            curve.Select(row => row.Point).ToArray(), curve.Select(row => row.Efficiency).ToArray())).ToList();

    public static void Save(string path, string title, IReadOnlyList<ScalingSeries> series)
    {
        var figure = new Multiplot();
        figure.AddPlots(2);
        figure.Layout = new ScottPlot.MultiplotLayouts.Grid(rows: 1, columns: 2);
        int[] ranks = series.SelectMany(curve => curve.Points.Select(point => point.Ranks)).Distinct().Order().ToArray();
        double[] ticks = ranks.Select(count => Math.Log2(count)).ToArray();
        string[] labels = ranks.Select(count => count.ToString(CultureInfo.InvariantCulture)).ToArray();
        (string Label, Func<ScalingSeries, double[]> Values)[] panels =
        [
            ("samples/s", curve => curve.Points.Select(point => point.SamplesPerSecond).ToArray()),
            ("efficiency against 1 rank", curve => curve.Efficiencies.ToArray()),
        ];
        for (int panel = 0; panel < panels.Length; panel++)
        {
            Plot plot = figure.GetPlot(panel);
            foreach (ScalingSeries curve in series)
            {
                var line = plot.Add.ScatterLine(curve.Points.Select(point => Math.Log2(point.Ranks)).ToArray(), panels[panel].Values(curve));
                line.Color = s_palette.GetColor(curve.Colour);
                line.LineWidth = 2;
                line.LinePattern = curve.Dashed ? LinePattern.Dashed : LinePattern.Solid;
                line.MarkerSize = curve.Dashed ? 0 : 8;
                line.LegendText = curve.Label;
            }
            plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks, labels);
            plot.XLabel("ranks");
            plot.YLabel(panels[panel].Label);
            plot.Axes.SetLimitsY(0, 1.1 * series.SelectMany(panels[panel].Values).Append(panel == 1 ? 1 : 0).Max());
            plot.ShowLegend(panel == 0 ? Alignment.UpperLeft : Alignment.LowerLeft);
        }
        figure.GetPlot(0).Title(title);
        figure.SavePng(path, 1400, 560);
    }
}
