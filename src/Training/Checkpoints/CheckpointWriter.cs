using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using HpcAdam.Collectives;
using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// Where a run stood when a checkpoint was written: everything besides weights and moments that
/// an exact resume needs (the stream cursor, counters, the κ of the next step and the smoothed
/// noise scale's EMAs, torch's random state), and the bias-correction products c1 and c2 for
/// people reading it (the optimizer file carries them for the resume).
/// </summary>
internal sealed record CheckpointState(
    long Step, long Samples, long MicroBatchesConsumed, int Kappa, int NextKappa, int MicroBatchSize, int WorldSize, string Optimizer,
    long Seed, long Skipped, double C1, double C2, double NoiseNumerator, double NoiseDenominator, string ConfigSha256,
    string TorchRngState)
{
    public static readonly JsonSerializerOptions Json = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
}

/// <summary>
/// Writes <c>RUN/checkpoints/&lt;zero-padded step&gt;/</c>: model.safetensors (weights and buffers by
/// name), optimizer.safetensors (m and v by parameter name, bias-correction products as metadata),
/// config.json (the run's resolved settings), direction.safetensors when an inner-product test
/// has a projection direction (<see cref="ProjectionDirection"/>), state.json, and SHA256SUMS with the
/// SHA-256 of every other file, in <c>sha256sum</c>'s format (<c>sha256sum -c SHA256SUMS</c> checks a
/// checkpoint by hand), so a damaged byte anywhere, state.json included, is found before anything is
/// used. The folder is filled under a
/// temporary name and renamed, so a checkpoint either exists whole or not at all, even if the job
/// dies while writing it. Old checkpoints are deleted the same way round: renamed out of the
/// numbered names first, so a deletion cut short never leaves a half checkpoint that
/// <c>--Resume=latest</c> could pick.
/// </summary>
internal static class CheckpointWriter
{
    public const string Folder = "checkpoints";
    public const string ModelFile = "model.safetensors", OptimizerFile = "optimizer.safetensors", ConfigFile = "config.json", StateFile = "state.json";
    public const string DirectionFile = "direction.safetensors", SumsFile = "SHA256SUMS";

    /// <summary>
    /// Rank 0 writes the checkpoint and prunes old ones (Checkpoint:Keep, Checkpoint:KeepEvery); every
    /// rank learns whether it could. A write that fails (a full disk, a quota) leaves nothing behind and
    /// ends the job on every rank with a line naming the step, the reason and the newest whole
    /// checkpoint; null when all went well.
    /// </summary>
    public static string? SaveOnRankZero(ICommunicator communicator, RunLog log, DataParallelTrainer trainer, FlatParameters parameters,
        OptimizerState optimizer, ProjectionDirection? direction, CheckpointState state)
    {
        string failure = "";
        if (communicator.Rank == 0)
        {
            try
            {
                log.Note($"checkpoint {Write(trainer.RunDirectory, trainer.ResolvedConfigurationJson, trainer.Model, parameters, optimizer, direction, state)}");
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException)
            {
                failure = $"the checkpoint of step {state.Step} could not be saved ({Reason(error)}) and nothing of it was kept; " +
                          (CheckpointReader.Latest(trainer.RunDirectory) is { } newest
                              ? $"the newest whole checkpoint is {newest}: go on from it with --Run:Resume=latest once there is room"
                              : "the run has no whole checkpoint yet");
            }
            if (failure.Length == 0)
                Prune(trainer.RunDirectory, trainer.Settings.Checkpoint.Keep, trainer.Settings.Checkpoint.KeepEvery);
        }
        Span<int> failed = [failure.Length > 0 ? 1 : 0];
        communicator.Broadcast(failed, root: 0);
        return failed[0] == 0 ? null : communicator.Rank == 0 ? failure : "rank 0 could not save a checkpoint";
    }

    /// <summary>The operating system's words for a failed write ("No space left on device"), without the temporary file's path.</summary>
    private static string Reason(Exception error) =>
        error.HResult is > 0 and < 4096 ? Marshal.GetPInvokeErrorMessage(error.HResult) : error.Message;

    public static string Write(string runDirectory, string configurationJson, nn.Module model, FlatParameters parameters, OptimizerState optimizer,
        ProjectionDirection? direction, CheckpointState state)
    {
        string parent = Path.Combine(runDirectory, Folder);
        string final = Path.Combine(parent, state.Step.ToString("D8", CultureInfo.InvariantCulture));
        string temporary = Path.Combine(parent, $".{Path.GetFileName(final)}.partial.{Environment.ProcessId}");
        Directory.CreateDirectory(temporary);
        try
        {
            ModelWeightsFile.Save(Path.Combine(temporary, ModelFile), model, parameters);
            using (FileStream file = File.Create(Path.Combine(temporary, OptimizerFile)))
                optimizer.Save(file, parameters.Slices);
            File.WriteAllText(Path.Combine(temporary, ConfigFile), configurationJson);
            File.WriteAllText(Path.Combine(temporary, StateFile), JsonSerializer.Serialize(state, CheckpointState.Json));
            string[] names = [ModelFile, OptimizerFile, ConfigFile, StateFile];
            if (direction is { Known: true })
            {
                using (FileStream file = File.Create(Path.Combine(temporary, DirectionFile)))
                    direction.Save(file);
                names = [.. names, DirectionFile];
            }
            File.WriteAllText(Path.Combine(temporary, SumsFile), string.Concat(names.Select(name => $"{Sha256(Path.Combine(temporary, name))}  {name}\n")));
            if (Directory.Exists(final))
                Directory.Delete(final, recursive: true);
            Directory.Move(temporary, final);
            return final;
        }
        finally
        {
            if (Directory.Exists(temporary))
                Directory.Delete(temporary, recursive: true);
        }
    }

    /// <summary>
    /// Deletes the checkpoints that neither are among the newest <paramref name="keep"/> (0 = keep
    /// all) nor fall on a multiple of <paramref name="keepEvery"/> (0 = no milestones). Called after a
    /// checkpoint is complete, so the newest, and the one a run resumed from until a newer one
    /// exists, always stay.
    /// </summary>
    public static void Prune(string runDirectory, int keep, int keepEvery)
    {
        if (keep == 0)
            return;
        foreach ((long step, string folder) in Steps(runDirectory).SkipLast(keep).Where(entry => keepEvery == 0 || entry.Step % keepEvery != 0))
            Delete(folder, step);
    }

    /// <summary>
    /// Removes what a job that died left half done: folders still being written (.STEP.partial.PID)
    /// or deleted (.STEP.deleting.PID). Only a job holding the run folder's lock may call it.
    /// </summary>
    public static void RemoveLeftovers(string runDirectory)
    {
        string parent = Path.Combine(runDirectory, Folder);
        if (Directory.Exists(parent))
            foreach (string leftover in Directory.GetDirectories(parent, ".*"))
                Directory.Delete(leftover, recursive: true);
    }

    /// <summary>The run's whole checkpoints by step, oldest first.</summary>
    public static IEnumerable<(long Step, string Folder)> Steps(string runDirectory)
    {
        string parent = Path.Combine(runDirectory, Folder);
        if (!Directory.Exists(parent))
            return [];
        return Directory.GetDirectories(parent)
            .Select(folder => (Ok: long.TryParse(Path.GetFileName(folder), NumberStyles.None, CultureInfo.InvariantCulture, out long step), Step: step, Folder: folder))
            .Where(entry => entry.Ok)
            .Select(entry => (entry.Step, entry.Folder))
            .OrderBy(entry => entry.Step)
            .ToArray();
    }

    private static void Delete(string folder, long step)
    {
        string doomed = Path.Combine(Path.GetDirectoryName(folder)!, FormattableString.Invariant($".{step:D8}.deleting.{Environment.ProcessId}"));
        Directory.Move(folder, doomed);
        Directory.Delete(doomed, recursive: true);
    }

    public static string Sha256(string path)
    {
        using FileStream file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }
}
