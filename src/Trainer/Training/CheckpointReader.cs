using System.Text.Json;

namespace HpcAdam.Trainer.Training;

/// <summary>A checkpoint that cannot be resumed from; the message is one line for the user.</summary>
internal sealed class CheckpointException(string message) : Exception(message);

/// <summary>A checkpoint's files, read and verified against the SHA-256 sums in its state.json; Direction is optional.</summary>
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
        string statePath = Path.Combine(folder, CheckpointWriter.StateFile);
        if (!File.Exists(statePath))
            throw new CheckpointException($"{folder} is not a checkpoint: it has no {CheckpointWriter.StateFile}");
        CheckpointState state;
        try
        {
            state = JsonSerializer.Deserialize<CheckpointState>(File.ReadAllText(statePath), CheckpointState.Json)
                ?? throw new JsonException("empty");
        }
        catch (JsonException error)
        {
            throw new CheckpointException($"{statePath} cannot be read ({error.Message.ReplaceLineEndings(" ")}): the checkpoint is damaged; resume from an earlier one");
        }
        if (state.Files is null)
            throw new CheckpointException($"{statePath} lists no file checksums: the checkpoint is damaged; resume from an earlier one");
        // The three files every checkpoint has, and whatever else its state lists.
        foreach (string name in new[] { CheckpointWriter.ModelFile, CheckpointWriter.OptimizerFile, CheckpointWriter.ConfigFile }.Union(state.Files.Keys))
        {
            string path = Path.Combine(folder, name);
            if (!File.Exists(path))
                throw new CheckpointException($"{path} is missing: the checkpoint is incomplete; resume from an earlier one");
            if (!state.Files.TryGetValue(name, out string? expected) || CheckpointWriter.Sha256(path) != expected)
                throw new CheckpointException($"{path} does not match the SHA-256 recorded in {CheckpointWriter.StateFile}: the checkpoint is damaged; resume from an earlier one");
        }
        return new CheckpointFiles(folder, state,
            File.ReadAllBytes(Path.Combine(folder, CheckpointWriter.ModelFile)),
            File.ReadAllBytes(Path.Combine(folder, CheckpointWriter.OptimizerFile)),
            File.ReadAllText(Path.Combine(folder, CheckpointWriter.ConfigFile)),
            state.Files.ContainsKey(CheckpointWriter.DirectionFile) ? File.ReadAllBytes(Path.Combine(folder, CheckpointWriter.DirectionFile)) : null);
    }
}
