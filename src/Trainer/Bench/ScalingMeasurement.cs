using System.Globalization;
using System.Numerics;
using System.Text.Json;

namespace HpcAdam.Trainer.Bench;

/// <summary>A run of `hpcadam bench scaling` that failed: the one line to print and the exit code (2 where the run refused its settings).</summary>
internal sealed class ScalingRunFailed(string message, int exitCode) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}

/// <summary>What the measured half of `hpcadam bench scaling` found: each point, the parameter count, and the network its model uses.</summary>
internal sealed record MeasuredScaling(List<ScalingPoint> Points, long Parameters, Interconnect Network);

/// <summary>
/// The measured half of `hpcadam bench scaling`: every point trained by `hpcadam train` under the
/// launcher, read back from its summary.json (the steady state's median phases and step, the bytes
/// all-reduced a step). Round r runs every point once, so that a slow minute of a shared machine
/// falls on all points alike; each point is then the median of its rounds. Last, α and β for the
/// model beside the measurement, from a preset, rows of `hpcadam bench allreduce`, or that
/// benchmark run now at the smallest rank count above 1.
/// </summary>
internal static class ScalingMeasurement
{
    /// <summary>Every point, then the network: <paramref name="network"/> where given (a preset or rows), else fitted now.</summary>
    public static MeasuredScaling Run(ScalingBenchOptions options, Interconnect? network, RankLauncher launcher, string work, Action<string> progress)
    {
        var runs = options.Points().ToDictionary(point => point, _ => new List<TrainingRunTimes>());
        for (int round = 1; round <= options.Repeats; round++)
            foreach ((ScalingMode mode, int ranks) in options.Points())
            {
                int kappa = mode.KappaAt(ranks);
                TrainingRunTimes run = Train(options, launcher, ranks, kappa, Path.Combine(work, "run"));
                runs[(mode, ranks)].Add(run);
                progress(string.Create(CultureInfo.InvariantCulture,
                    $"# {mode.Name} scaling, {ranks} rank(s), κ = {kappa}, round {round} of {options.Repeats}: {run.StepMs:F2} ms a step"));
            }
        List<ScalingPoint> points = options.Points().Select(point => new ScalingPoint(point.Mode.Name, point.Ranks, point.Mode.KappaAt(point.Ranks),
            options.MicroBatchSize, StepTimings.Median(runs[point].Select(run => run.Ms).ToArray()), StepTimings.Median(runs[point].Select(run => run.StepMs)),
            runs[point][0].Bytes)).ToList();
        long parameters = runs.Values.First()[0].Parameters;
        return new MeasuredScaling(points, parameters, network ?? FitNow(options, launcher, work, points.Max(point => (long)point.BytesPerStep)));
    }

    /// <summary>What one run's summary.json and metrics.jsonl say: the steady state's median phases and step, the bytes all-reduced a step, the parameters.</summary>
    private sealed record TrainingRunTimes(PhaseTimes Ms, double StepMs, long Bytes, long Parameters);

    /// <summary>One run of <paramref name="kappa"/> micro-batches a step on <paramref name="ranks"/> ranks, in a folder deleted afterwards.</summary>
    private static TrainingRunTimes Train(ScalingBenchOptions options, RankLauncher launcher, int ranks, int kappa,
        string runDirectory)
    {
        (int exitCode, List<string> stderr) = launcher.Run(ranks, options.TrainArguments(kappa, runDirectory));
        try
        {
            if (exitCode != ExitCodes.Success)
                throw new ScalingRunFailed($"hpcadam bench scaling: the run on {ranks} rank(s) with κ = {kappa} failed (exit {exitCode}): " +
                                           LastLine(stderr), exitCode == ExitCodes.Usage ? ExitCodes.Usage : ExitCodes.Failed);
            using JsonDocument summary = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDirectory, RunFolder.SummaryFile)));
            JsonElement steady = summary.RootElement.GetProperty("steady_state").GetProperty("step_ms");
            var ms = new PhaseTimes(steady.GetProperty("compute").GetDouble(), steady.GetProperty("comm").GetDouble(), steady.GetProperty("optim").GetDouble(),
                steady.GetProperty("stats").GetDouble(), steady.GetProperty("other").GetDouble());
            // The start line of metrics.jsonl counts the parameters; summary.json does not.
            using JsonDocument start = JsonDocument.Parse(File.ReadLines(Path.Combine(runDirectory, RunFolder.MetricsFile)).First());
            return new TrainingRunTimes(ms, steady.GetProperty("total").GetDouble(), summary.RootElement.GetProperty("allreduce_bytes_per_step").GetInt64(),
                start.RootElement.GetProperty("parameters").GetInt64());
        }
        finally
        {
            if (Directory.Exists(runDirectory))
                Directory.Delete(runDirectory, recursive: true);
        }
    }

    /// <summary>α and β fitted to `hpcadam bench allreduce` run now at the smallest rank count above 1.</summary>
    private static Interconnect FitNow(ScalingBenchOptions options, RankLauncher launcher, string work, long bytes)
    {
        int ranks = options.Ranks.First(count => count > 1);
        // Sizes from 4 B to the power of two at or above the step's buffer, so the fit spans the message the step sends.
        long maxBytes = Math.Max(1L << 20, (long)BitOperations.RoundUpToPowerOf2((ulong)bytes));
        string json = Path.Combine(work, "allreduce.json");
        (int exitCode, List<string> stderr) = launcher.Run(ranks,
            ["bench", "allreduce", "--max-bytes", maxBytes.ToString(CultureInfo.InvariantCulture), "--warmup", "3", "--iters", "10", "--json", json]);
        if (exitCode != ExitCodes.Success)
            throw new ScalingRunFailed($"hpcadam bench scaling: hpcadam bench allreduce on {ranks} ranks failed (exit {exitCode}): {LastLine(stderr)}", ExitCodes.Failed);
        string source = $"fitted to hpcadam bench allreduce at {ranks} ranks, run now";
        return AlphaBetaFit.Fit(BandwidthRow.FromJson(File.ReadAllText(json)), "fit", source, out string? problem)
               ?? throw new ScalingRunFailed($"hpcadam bench scaling: {problem} ({source})", ExitCodes.Failed);
    }

    private static string LastLine(List<string> lines) => lines.LastOrDefault(line => line.Trim().Length > 0)?.Trim() ?? "no message";
}
