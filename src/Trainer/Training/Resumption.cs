using System.Text.Json;
using HpcAdam.Collectives;
using HpcAdam.Optim;
using HpcAdam.Trainer.Configuration;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>Where a resumed run goes on from: the checkpoint's step, counters and stream cursor.</summary>
internal sealed record ResumePoint(string Folder, long Step, long Samples, long MicroBatchesConsumed, long Skipped);

/// <summary>
/// <c>--Resume=PATH|latest</c>. Rank 0 alone reads the checkpoint (it is the rank that wrote it,
/// and the only one sure to see the folder on a node-local disk), verifies its checksums and
/// that it belongs to a compatible run, then broadcasts its bytes; every rank loads the same
/// bytes, so every rank resumes bit for bit the same state, on any number of ranks.
/// </summary>
internal static class Resumption
{
    private const long Fresh = 0, Resume = 1, Refused = 2;

    /// <summary>What must not change across a resume: the model, the data and the global sample stream, the optimizer's kind.</summary>
    private static readonly (string Key, Func<TrainerSettings, object> Value)[] s_identity =
    [
        ("Model:Name", s => s.Model.Name), ("Model:Hidden", s => s.Model.Hidden), ("Model:Norm", s => s.Model.Norm),
        ("Model:PatchSize", s => s.Model.PatchSize), ("Model:Depth", s => s.Model.Depth), ("Model:Width", s => s.Model.Width),
        ("Model:Heads", s => s.Model.Heads), ("Data:Name", s => s.Data.Name), ("Batch:MicroBatchSize", s => s.Batch.MicroBatchSize),
        ("Train:Seed", s => s.Train.Seed), ("Optimizer:Name", s => s.Optimizer.Name),
    ];

    /// <summary>
    /// Loads the checkpoint <paramref name="request"/> names into the model, its buffers, the optimizer and the batch-size
    /// controller on every rank; null when there is nothing to resume (no request, or "latest" in a run without checkpoints).
    /// An adaptive run goes on with the checkpoint's κ; a fixed one with this run's Batch:Kappa.
    /// </summary>
    public static ResumePoint? Restore(ICommunicator communicator, string? request, TrainingJob job, nn.Module model,
        FlatParameters parameters, OptimizerState optimizer, BatchSizeController controller)
    {
        if (request is null)
            return null;
        CheckpointFiles? files = null;
        string problem = "";
        if (communicator.Rank == 0)
        {
            try
            {
                files = Locate(request, job.RunDirectory) is { } folder ? CheckpointReader.Read(folder) : null;
                if (files is not null)
                    RequireCompatible(files, job.Settings);
            }
            catch (CheckpointException error)
            {
                problem = error.Message;
            }
        }
        byte[]? stateJson = files is null ? null : JsonSerializer.SerializeToUtf8Bytes(files.State, CheckpointState.Json);
        long[] header = [problem.Length > 0 ? Refused : files is null ? Fresh : Resume,
                         files?.Model.Length ?? 0, files?.Optimizer.Length ?? 0, stateJson?.Length ?? 0, files?.Direction?.Length ?? 0];
        communicator.Broadcast<long>(header, root: 0);
        if (header[0] == Refused)
            throw new CheckpointException(communicator.Rank == 0 ? problem : "rank 0 refused the checkpoint");
        if (header[0] == Fresh)
            return null;

        byte[] modelBytes = Shared(communicator, files?.Model, header[1]);
        byte[] optimizerBytes = Shared(communicator, files?.Optimizer, header[2]);
        CheckpointState state = JsonSerializer.Deserialize<CheckpointState>(Shared(communicator, stateJson, header[3]), CheckpointState.Json)!;
        byte[] directionBytes = Shared(communicator, files?.Direction, header[4]);
        string folderName = files?.Folder ?? "";

        LoadModel(modelBytes, model, parameters);
        try
        {
            optimizer.Load(new MemoryStream(optimizerBytes), parameters.Slices);
        }
        catch (InvalidDataException error)
        {
            throw new CheckpointException($"the checkpoint's optimizer state does not fit this run: {error.Message}");
        }
        controller.Restore(controller.Test == SamplingTest.None ? controller.Kappa : state.NextKappa, state.NoiseNumerator, state.NoiseDenominator);
        if (controller.Direction is not null && directionBytes.Length > 0)
        {
            try
            {
                controller.Direction.Load(new MemoryStream(directionBytes));
            }
            catch (InvalidDataException error)
            {
                throw new CheckpointException($"the checkpoint's projection direction does not fit this run: {error.Message}");
            }
        }
        using (Tensor rng = tensor(Convert.FromBase64String(state.TorchRngState)))
            set_rng_state(rng);
        return new ResumePoint(folderName, state.Step, state.Samples, state.MicroBatchesConsumed, state.Skipped);
    }

    /// <summary>The checkpoint folder a request names: latest in the run folder, a run folder's latest, or a checkpoint folder.</summary>
    private static string? Locate(string request, string runDirectory)
    {
        if (request == "latest")
            return CheckpointReader.Latest(runDirectory);
        if (File.Exists(Path.Combine(request, CheckpointWriter.StateFile)))
            return request;
        return CheckpointReader.Latest(request)
            ?? throw new CheckpointException($"--Resume={request}: neither a checkpoint folder nor a run folder with checkpoints");
    }

    private static void RequireCompatible(CheckpointFiles files, TrainerSettings current)
    {
        TrainerSettings saved;
        try
        {
            saved = JsonSerializer.Deserialize<TrainerSettings>(files.Configuration) ?? throw new JsonException("empty");
        }
        catch (JsonException)
        {
            throw new CheckpointException($"{files.Folder}/{CheckpointWriter.ConfigFile} cannot be read: the checkpoint is damaged");
        }
        foreach ((string key, Func<TrainerSettings, object> value) in s_identity)
            if (!value(saved).Equals(value(current)))
                throw new CheckpointException(
                    $"{files.Folder} was written with {key} = {value(saved)}, this run has {value(current)}: resume with the same model, data, micro-batch size, seed and optimizer");
    }

    private static byte[] Shared(ICommunicator communicator, byte[]? rootBytes, long length)
    {
        byte[] bytes = rootBytes ?? new byte[length];
        communicator.Broadcast<byte>(bytes, root: 0);
        return bytes;
    }

    private static void LoadModel(byte[] bytes, nn.Module model, FlatParameters parameters)
    {
        (Dictionary<string, Tensor> tensors, _) = SafeTensorsFormat.Read(new MemoryStream(bytes));
        try
        {
            using var _ = no_grad();
            foreach (ParameterSlice slice in parameters.Slices)
            {
                using Tensor view = FlatParameters.View(parameters.Weights, slice);
                view.copy_(Matching(tensors, slice.Name, view));
            }
            foreach ((string name, Tensor buffer) in model.named_buffers())
                buffer.copy_(Matching(tensors, name, buffer));
        }
        finally
        {
            foreach (Tensor loaded in tensors.Values)
                loaded.Dispose();
        }
    }

    private static Tensor Matching(Dictionary<string, Tensor> tensors, string name, Tensor current)
    {
        Tensor saved = tensors.GetValueOrDefault(name)
            ?? throw new CheckpointException($"the checkpoint has no tensor '{name}': it was written for another model");
        if (!saved.shape.SequenceEqual(current.shape) || saved.dtype != current.dtype)
            throw new CheckpointException(
                $"the checkpoint's '{name}' is {saved.dtype} [{string.Join(", ", saved.shape)}], this model's is {current.dtype} [{string.Join(", ", current.shape)}]");
        return saved;
    }
}
