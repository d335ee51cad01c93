using System.Globalization;
using System.Text;
using System.Text.Json;
using HpcAdam.Trainer.Training;

namespace HpcAdam.Trainer.Sweep;

/// <summary>A point of a run's curve: after <c>Samples</c> samples, the train loss averaged over the window since the previous point, and the test metrics there.</summary>
internal sealed record CurvePoint(long Samples, double TrainLoss, double TestLoss, double TestAccuracy);

/// <summary>A finished run of the sweep and its curve; a diverged run's curve ends where it stopped.</summary>
internal sealed record RunCurve(SweepRun Run, IReadOnlyList<CurvePoint> Points, bool Diverged);

/// <summary>
/// Reads the curves of a sweep's runs from their metrics.jsonl and writes them as one CSV. The
/// train loss at a point is the mean of the step losses since the previous evaluation (every
/// Sweep:EvalEverySamples samples): each step's loss is a noisy one-batch value, and the window
/// is the same number of samples for every batch size, so curves compare at equal samples seen.
/// </summary>
internal static class SweepCurves
{
    public static RunCurve Read(SweepRun run, string runDirectory)
    {
        var losses = new List<(long Samples, double Loss)>();
        var points = new List<CurvePoint>();
        long windowStart = 0;
        foreach (string line in File.ReadLines(Path.Combine(runDirectory, RunFolder.MetricsFile)))
        {
            JsonElement entry = JsonDocument.Parse(line).RootElement;
            switch (entry.GetProperty("event").GetString())
            {
                case "step":
                    losses.Add((entry.GetProperty("samples").GetInt64(), entry.GetProperty("loss").GetDouble()));
                    break;
                case "eval":
                    long samples = entry.GetProperty("samples").GetInt64();
                    double[] window = losses.Where(step => step.Samples > windowStart && step.Samples <= samples).Select(step => step.Loss).ToArray();
                    points.Add(new CurvePoint(samples, window.Length > 0 ? window.Average() : double.NaN,
                        entry.GetProperty("test_loss").GetDouble(), entry.GetProperty("test_accuracy").GetDouble()));
                    windowStart = samples;
                    break;
            }
        }
        return new RunCurve(run, points, File.Exists(Path.Combine(runDirectory, SweepCommand.DivergedFile)));
    }

    public static void WriteCsv(string path, IEnumerable<RunCurve> curves, int microBatchSize)
    {
        var csv = new StringBuilder("optimizer,scaling,lr,kappa,batch_size,samples,train_loss,test_loss,test_accuracy\n");
        foreach (RunCurve curve in curves)
            foreach (CurvePoint point in curve.Points)
                csv.Append(CultureInfo.InvariantCulture,
                    $"{curve.Run.Optimizer},{curve.Run.Scaling},{curve.Run.Lr:R},{curve.Run.Kappa},{curve.Run.Kappa * microBatchSize},{point.Samples},{point.TrainLoss:R},{point.TestLoss:R},{point.TestAccuracy:R}\n");
        AtomicFile.WriteAllText(path, csv.ToString());
    }
}
