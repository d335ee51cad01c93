using System.Globalization;
using System.Text.Json;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// What rank 0 writes into Run:Dir, and nothing else does: config.json, metrics.jsonl,
/// samples.jsonl and initial.safetensors (with Trace:Samples), checkpoints/ and summary.json.
/// </summary>
internal sealed class RunFolder : IDisposable
{
    private static readonly JsonSerializerOptions s_summaryJson = new() { WriteIndented = true };

    private readonly JsonLinesFile _metrics;
    private readonly JsonLinesFile? _samples;

    /// <summary>A new run's folder, or with <paramref name="resumedStep"/> the folder of a run going on from that step.</summary>
    public RunFolder(string directory, string configurationJson, bool traceSamples, long? resumedStep)
    {
        Directory = directory;
        System.IO.Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "config.json"), configurationJson);
        File.Delete(Path.Combine(directory, PreemptedMarker));
        _metrics = Open(MetricsFile);
        _samples = traceSamples ? Open("samples.jsonl") : null;

        JsonLinesFile Open(string name) => resumedStep is { } step
            ? JsonLinesFile.ContinueAfter(Path.Combine(directory, name), step)
            : JsonLinesFile.Create(Path.Combine(directory, name));
    }

    /// <summary>The file a run that stopped on a signal leaves, so a batch script knows to requeue it.</summary>
    public const string PreemptedMarker = "preempted";
    public const string MetricsFile = "metrics.jsonl", SummaryFile = "summary.json";

    public string Directory { get; }

    /// <summary>
    /// The folder for Run:Dir, or why it cannot be used: a folder that already holds a run is
    /// never overwritten (a run's metrics and checkpoints are not ours to lose) unless the run resumes it.
    /// </summary>
    public static string? Problem(string directory, bool resuming)
    {
        if (File.Exists(directory))
            return $"Run:Dir = {directory} is a file; give a folder for the run's outputs";
        if (!resuming && File.Exists(Path.Combine(directory, "config.json")))
            return $"Run:Dir = {directory} already holds a run (config.json); choose another Run:Dir, remove that folder, or continue it with --Run:Resume=latest";
        return null;
    }

    /// <summary>The default Run:Dir: a new folder per run, named by its UTC start time.</summary>
    public static string Default() => Path.Combine("runs", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));

    public void Metrics(JsonLine line) => _metrics.Write(line);

    /// <summary>With Trace:Samples, the training-set indices of each of the step's micro-batches, in stream order.</summary>
    public void Samples(long step, IEnumerable<long[]> microBatches)
    {
        if (_samples is not null)
            _samples.Write(new JsonLine().Add("step", step).Add("micro_batches", microBatches));
    }

    public void InitialWeights(nn.Module model, FlatParameters parameters) =>
        ModelWeightsFile.Save(Path.Combine(Directory, "initial.safetensors"), model, parameters);

    public void MarkPreempted(string reason) => AtomicFile.WriteAllText(Path.Combine(Directory, PreemptedMarker), reason + "\n");

    public void Summary(object summary) =>
        AtomicFile.WriteAllText(Path.Combine(Directory, SummaryFile), JsonSerializer.Serialize(summary, s_summaryJson));

    public void Dispose()
    {
        _metrics.Dispose();
        _samples?.Dispose();
    }
}
