using System.Text.Json;
using HpcAdam.Trainer.Training;

namespace HpcAdam.Trainer.Report;

/// <summary>An evaluation of a run: after which step and how many samples, and the test accuracy then.</summary>
internal sealed record EvalPoint(long Step, long Samples, double Accuracy);

/// <summary>
/// What `hpcadam compare` reads from a finished run folder: summary.json, and the eval lines of
/// metrics.jsonl (the curve of test accuracy against steps and samples).
/// </summary>
internal sealed record RunRecord(string Name, long Steps, long Samples, double MeanBatchSize, int FinalKappa, double Accuracy, IReadOnlyList<EvalPoint> Curve)
{
    /// <summary>The run in <paramref name="directory"/>; a folder without a finished run is a <see cref="InvalidDataException"/> naming it.</summary>
    public static RunRecord Read(string directory)
    {
        string summaryPath = Path.Combine(directory, RunFolder.SummaryFile), metricsPath = Path.Combine(directory, RunFolder.MetricsFile);
        if (!File.Exists(summaryPath) || !File.Exists(metricsPath))
            throw new InvalidDataException($"{directory} holds no finished run (no summary.json or metrics.jsonl): let the run finish, or leave it out");
        try
        {
            JsonElement summary = JsonDocument.Parse(File.ReadAllText(summaryPath)).RootElement;
            var curve = new List<EvalPoint>();
            foreach (string line in File.ReadLines(metricsPath))
            {
                JsonElement entry = JsonDocument.Parse(line).RootElement;
                if (entry.GetProperty("event").GetString() == "eval")
                    curve.Add(new EvalPoint(entry.GetProperty("step").GetInt64(), entry.GetProperty("samples").GetInt64(), entry.GetProperty("test_accuracy").GetDouble()));
            }
            long steps = summary.GetProperty("steps").GetInt64(), samples = summary.GetProperty("samples").GetInt64();
            return new RunRecord(Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), steps, samples, (double)samples / steps,
                summary.TryGetProperty("final_kappa", out JsonElement kappa) ? kappa.GetInt32() : 0, summary.GetProperty("test_accuracy").GetDouble(), curve);
        }
        catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"{directory}: summary.json or metrics.jsonl cannot be read ({error.Message.ReplaceLineEndings(" ")})");
        }
    }

    /// <summary>The first evaluation at or above <paramref name="target"/>, or null if none reached it.</summary>
    public EvalPoint? FirstReaching(double target) => Curve.FirstOrDefault(point => point.Accuracy >= target);
}
