using System.Text.Json;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// The JSON of `hpcadam bench scaling --json`: "measured" (every point and the model's prediction of
/// it) or "predicted" (the projection); and the calibration that `--predict --calibration FILE` reads
/// back from a measured file's first 1-rank point.
/// </summary>
internal static class ScalingJson
{
    public static string Measured(ScalingBenchOptions options, string launcher, MeasuredScaling measured, IEnumerable<MeasuredRow> rows) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["kind"] = "measured", ["model"] = options.Model, ["data"] = options.Data, ["micro_batch_size"] = options.MicroBatchSize,
            ["steps"] = options.Steps, ["steady_steps"] = options.SteadySteps, ["repeats"] = options.Repeats,
            ["threads_per_rank"] = RankLauncher.ThreadsPerRank, ["launcher"] = launcher, ["parameters"] = measured.Parameters,
            ["network"] = Network(measured.Network), ["points"] = rows.Select(row => row.ToJson()),
        }, BenchJson.Options);

    public static string Predicted(StepCalibration calibration, Interconnect network, IEnumerable<ProjectedRow> rows) =>
        JsonSerializer.Serialize(new Dictionary<string, object?>
        {
            ["kind"] = "predicted", ["model"] = calibration.Model, ["micro_batch_size"] = calibration.MicroBatchSize, ["parameters"] = calibration.Parameters,
            ["calibration"] = new Dictionary<string, object?>
            {
                ["compute_ms_per_micro_batch"] = calibration.ComputeMsPerMicroBatch, ["comm_ms"] = calibration.CommunicationMs, ["optim_ms"] = calibration.OptimizerMs,
                ["stats_ms"] = calibration.StatisticsMs, ["other_ms"] = calibration.OtherMs, ["allreduce_bytes_per_step"] = calibration.BytesPerStep,
            },
            ["network"] = Network(network), ["points"] = rows.Select(row => row.ToJson()),
        }, BenchJson.Options);

    private static Dictionary<string, object?> Network(Interconnect network) => new()
    {
        ["name"] = network.Name, ["alpha_us"] = network.AlphaMicroseconds, ["beta_gbs"] = network.BetaGbs, ["source"] = network.Source,
    };

    /// <summary>The calibration in a measured file: its first 1-rank point; null with the reason where the file has none.</summary>
    public static StepCalibration? Calibration(string file, out string? problem)
    {
        problem = null;
        try
        {
            using JsonDocument document = JsonDocument.Parse(File.ReadAllText(file));
            JsonElement root = document.RootElement;
            if (root.GetProperty("kind").GetString() != "measured")
            {
                problem = $"--calibration {file} is not the JSON of a measured hpcadam bench scaling (its kind is not \"measured\")";
                return null;
            }
            int microBatchSize = root.GetProperty("micro_batch_size").GetInt32();
            foreach (JsonElement point in root.GetProperty("points").EnumerateArray().Where(point => point.GetProperty("ranks").GetInt32() == 1))
            {
                JsonElement ms = point.GetProperty("ms");
                var phases = new PhaseTimes(ms.GetProperty("compute").GetDouble(), ms.GetProperty("comm").GetDouble(), ms.GetProperty("optim").GetDouble(),
                    ms.GetProperty("stats").GetDouble(), ms.GetProperty("other").GetDouble());
                var one = new ScalingPoint(point.GetProperty("mode").GetString()!, 1, point.GetProperty("kappa").GetInt32(), microBatchSize, phases,
                    ms.GetProperty("total").GetDouble(), point.GetProperty("allreduce_bytes_per_step").GetDouble());
                return StepCalibration.FromOneRank(root.GetProperty("model").GetString()!, root.GetProperty("parameters").GetInt64(), one);
            }
            problem = $"--calibration {file} has no 1-rank point";
        }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException or JsonException or KeyNotFoundException or InvalidOperationException)
        {
            problem = $"--calibration {file} cannot be read as hpcadam bench scaling's JSON: {error.Message}";
        }
        return null;
    }
}
