using System.Text.Json;
using HpcAdam.Collectives;
using HpcAdam.Optim;
using static TorchSharp.torch;

namespace HpcAdam.Training;

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

    /// <summary>
    /// Loads the checkpoint <paramref name="request"/> names into the model, its buffers, the optimizer and the batch-size
    /// controller on every rank; null when there is nothing to resume (no request, or "latest" in a run without checkpoints).
    /// An adaptive run goes on with the checkpoint's κ; a fixed one with this run's Batch:Kappa.
    /// </summary>
    public static ResumePoint? Restore(ICommunicator communicator, string? request, string runDirectory, TrainingSettings settings, nn.Module model,
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
                files = Locate(request, runDirectory) is { } folder ? CheckpointReader.Read(folder) : null;
                if (files is not null)
                    RequireCompatible(files, settings);
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
            ?? throw new CheckpointException($"Run:Resume = {request}: neither a checkpoint folder nor a run folder with checkpoints");
    }

    /// <summary>What must not change across a resume (<see cref="TrainingSettings.ResumeIdentity"/>): the model, the data and the global sample stream, the optimizer's kind.</summary>
    private static void RequireCompatible(CheckpointFiles files, TrainingSettings current)
    {
        TrainingSettings saved;
        try
        {
            saved = (TrainingSettings?)JsonSerializer.Deserialize(files.Configuration, current.GetType()) ?? throw new JsonException("empty");
        }
        catch (JsonException)
        {
            throw new CheckpointException($"{files.Folder}/{CheckpointWriter.ConfigFile} cannot be read: the checkpoint is damaged");
        }
        foreach (((string key, object was), (_, object now)) in saved.ResumeIdentity().Zip(current.ResumeIdentity()))
            if (!was.Equals(now))
                throw new CheckpointException(
                    $"{files.Folder} was written with {key} = {was}, this run has {now}: resume with the same model, data, micro-batch size, seed and optimizer");
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
