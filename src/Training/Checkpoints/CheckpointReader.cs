using System.Text.Json;

namespace HpcAdam.Training;

/// <summary>A checkpoint that cannot be resumed from; the message is one line for the user.</summary>
internal sealed class CheckpointException(string message) : Exception(message);

/// <summary>A checkpoint's files, read and verified against the SHA-256 sums in its SHA256SUMS; Direction is optional.</summary>
internal sealed record CheckpointFiles(string Folder, CheckpointState State, byte[] Model, byte[] Optimizer, string Configuration, byte[]? Direction);

/// <summary>
/// Finds and reads checkpoints written by <see cref="CheckpointWriter"/>. Only whole checkpoints
/// count: a folder still under its temporary name, or one whose files do not match their
/// recorded sums, is never resumed from.
/// </summary>
internal static class CheckpointReader
{
    /// <summary>The newest checkpoint folder of a run, or null when it has none.</summary>
    public static string? Latest(string runDirectory) => CheckpointWriter.Steps(runDirectory).Select(entry => entry.Folder).LastOrDefault();

    public static CheckpointFiles Read(string folder)
    {
        Dictionary<string, string> sums = Sums(folder);
        // The files every checkpoint has, and whatever else its sums list; each must match before any is read.
        foreach (string name in new[] { CheckpointWriter.ModelFile, CheckpointWriter.OptimizerFile, CheckpointWriter.ConfigFile, CheckpointWriter.StateFile }
                     .Union(sums.Keys))
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path))
                throw new CheckpointException($"{path} is missing: the checkpoint is incomplete; resume from an earlier one");
            if (!sums.TryGetValue(name, out string? expected) || CheckpointWriter.Sha256(path) != expected)
                throw new CheckpointException($"{path} does not match the SHA-256 recorded in {CheckpointWriter.SumsFile}: the checkpoint is damaged; resume from an earlier one");
        }
        string statePath = Path.Combine(folder, CheckpointWriter.StateFile);
        CheckpointState state;
        try
        {
            state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath), CheckpointState.Json) ?? throw new JsonException("empty");
            Convert.FromBase64String(state.TorchRngState);
        }
        catch (Exception error) when (error is JsonException or FormatException or ArgumentNullException)
        {
            // Sums that match but a state that does not parse: written by another program or version.
            throw new CheckpointException($"{statePath} cannot be read ({error.Message.ReplaceLineEndings(" ")}): it was not written by this hpcadam; resume from another checkpoint");
        }
        return new CheckpointFiles(folder, state,
            File.ReadAllBytes(Path.Combine(folder, CheckpointWriter.ModelFile)),
            File.ReadAllBytes(Path.Combine(folder, CheckpointWriter.OptimizerFile)),
            File.ReadAllText(Path.Combine(folder, CheckpointWriter.ConfigFile)),
            sums.ContainsKey(CheckpointWriter.DirectionFile) ? File.ReadAllBytes(Path.Combine(folder, CheckpointWriter.DirectionFile)) : null);
    }

    /// <summary>SHA256SUMS as file name → SHA-256; a missing or malformed one is a damaged checkpoint.</summary>
    private static Dictionary<string, string> Sums(string folder)
    {
        string path = Path.Combine(folder, CheckpointWriter.SumsFile);
        if (!File.Exists(path))
            throw new CheckpointException(File.Exists(Path.Combine(folder, CheckpointWriter.StateFile))
                ? $"{folder} has no {CheckpointWriter.SumsFile}: the checkpoint is incomplete, or was written by an earlier hpcadam; resume from another one"
                : $"{folder} is not a checkpoint: it has no {CheckpointWriter.StateFile}");
        var sums = new Dictionary<string, string>();
        foreach (string line in File.ReadAllLines(path))
        {
            string[] parts = line.Split("  ", 2);
            if (parts.Length != 2 || parts[0].Length != 64 || !parts[0].All(char.IsAsciiHexDigitLower) || parts[1].Length == 0 || parts[1].Contains('/') || !sums.TryAdd(parts[1], parts[0]))
                throw new CheckpointException($"{path} has a damaged line '{line}': the checkpoint is damaged; resume from an earlier one");
        }
        return sums;
    }
}
