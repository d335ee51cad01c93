using System.Text.Json;

namespace HpcAdam.Training;

/// <summary>
/// An append-only JSON-lines file (metrics.jsonl, samples.jsonl), flushed after every line so
/// that <c>tail -f</c> and a job killed mid-run both see every completed step.
/// </summary>
internal sealed class JsonLinesFile : IDisposable
{
    private readonly StreamWriter _writer;

    private JsonLinesFile(string path, bool append) => _writer = new StreamWriter(path, append) { NewLine = "\n" };

    public static JsonLinesFile Create(string path) => new(path, append: false);

    /// <summary>
    /// Continues a file from a checkpoint at <paramref name="step"/>: lines of later steps (written
    /// after the checkpoint by a run that then died) are dropped, as the resumed run writes them again.
    /// </summary>
    public static JsonLinesFile ContinueAfter(string path, long step)
    {
        if (File.Exists(path))
        {
            string[] kept = File.ReadLines(path).Where(line => StepOf(line) is not { } lineStep || lineStep <= step).ToArray();
            AtomicFile.WriteAllText(path, kept.Length == 0 ? "" : string.Join("\n", kept) + "\n");
        }
        return new JsonLinesFile(path, append: true);
    }

    public void Write(JsonLine line)
    {
        _writer.WriteLine(line.Complete());
        _writer.Flush();
        line.Dispose();
    }

    public void Dispose() => _writer.Dispose();

    private static long? StepOf(string line)
    {
        try
        {
            using JsonDocument document = JsonDocument.Parse(line);
            return document.RootElement.TryGetProperty("step", out JsonElement step) ? step.GetInt64() : null;
        }
        catch (JsonException)
        {
            return long.MaxValue;   // a line cut short by the crash: drop it
        }
    }
}
