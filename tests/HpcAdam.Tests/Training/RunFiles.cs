using System.Text.Json;
using HpcAdam.Optim;
using TorchSharp;

namespace HpcAdam.Tests.Training;

/// <summary>Reads what `hpcadam train` left in a run folder.</summary>
internal sealed class RunFiles(string directory)
{
    public string Directory { get; } = directory;

    public JsonElement Summary => JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "summary.json"))).RootElement;

    /// <summary>Every line of metrics.jsonl whose "event" is <paramref name="kind"/>.</summary>
    public List<JsonElement> Metrics(string kind) =>
        File.ReadLines(Path.Combine(Directory, "metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(line => line.GetProperty("event").GetString() == kind)
            .ToList();

    public string[] Checkpoints() =>
        System.IO.Directory.GetDirectories(Path.Combine(Directory, "checkpoints")).Select(Path.GetFileName).Order().ToArray()!;

    public Dictionary<string, torch.Tensor> Tensors(string relativePath)
    {
        using FileStream file = File.OpenRead(Path.Combine(Directory, relativePath));
        return SafeTensorsFormat.Read(file).Tensors;
    }

    /// <summary>max over tensors of ‖a − b‖ / ‖a‖: how far two runs' weights are apart, relative to their size.</summary>
    public static double MaxRelativeDifference(Dictionary<string, torch.Tensor> a, Dictionary<string, torch.Tensor> b)
    {
        Assert.That(b.Keys, Is.EquivalentTo(a.Keys));
        return a.Where(entry => entry.Value.is_floating_point()).Max(entry =>
        {
            using torch.Tensor first = entry.Value.to(torch.ScalarType.Float64), second = b[entry.Key].to(torch.ScalarType.Float64);
            return (first - second).norm().item<double>() / Math.Max(first.norm().item<double>(), double.Epsilon);
        });
    }
}
