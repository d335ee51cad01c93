using HpcAdam.Collectives;
using HpcAdam.Optim;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// The model's buffers (batchnorm's running statistics and batch counter, or any buffer a module
/// registers), kept bit-identical on every rank with no collective of their own
/// (docs/ALGORITHMS.md, "Buffers"). Every micro-batch of a step starts from the buffers the step
/// started with, as it starts from the step's weights; its change to each buffer, weighted as a
/// single process running the step's κ micro-batches one after another would weigh it, rides in
/// the step's one all-reduce; every rank then sets start + Σ changes from the same reduced bytes.
/// <list type="bullet">
/// <item>An exponential average with momentum α (batchnorm's running mean and variance): micro-batch
/// k of κ weighs (1 − α)^(κ−1−k), the decay of the κ−1−k updates after it. The result is exactly a
/// single process's (1 − α)^κ·r + Σ_k α(1 − α)^(κ−1−k)·x_k, up to rounding.</item>
/// <item>A cumulative average (batchnorm with momentum null): each change weighs (n+1)/(n+κ), n the
/// batch counter at the step's start.</item>
/// <item>Anything else, integer counters included: the changes add up (weight 1), so
/// <c>num_batches_tracked</c> grows by exactly κ per step on every rank.</item>
/// </list>
/// </summary>
internal sealed class ModelBuffers : IDisposable
{
    private readonly Entry[] _entries;

    public ModelBuffers(nn.Module model)
    {
        // By native handle: TorchSharp may hand out more than one managed wrapper of a buffer.
        var rules = new Dictionary<IntPtr, Func<int, int, double>>();
        // named_modules() leaves out the model itself, which may be a normalisation layer.
        foreach (nn.Module module in model.named_modules().Select(named => named.module).Prepend(model))
            if (module is NormBase { track_running_stats: true, running_mean: { } mean, running_var: { } variance } norm)
            {
                Func<int, int, double> weight = norm.momentum is { } momentum
                    ? (position, kappa) => Math.Pow(1 - momentum, kappa - 1 - position)
                    : CumulativeAverage(norm.num_batches_tracked!);
                rules[mean.Handle] = weight;
                rules[variance.Handle] = weight;
            }
        long offset = 0;
        _entries = model.named_buffers().Select(named =>
        {
            var entry = new Entry(named.name, named.buffer, named.buffer.clone(), offset, rules.GetValueOrDefault(named.buffer.Handle, (_, _) => 1.0));
            offset += named.buffer.numel();
            return entry;
        }).ToArray();
        Count = offset;
    }

    /// <summary>Elements of all buffers: the float32 slots their changes take in the step's buffer.</summary>
    public long Count { get; }

    /// <summary>Every rank takes rank 0's buffers, as it takes rank 0's initial weights.</summary>
    public void Broadcast(ICommunicator communicator)
    {
        foreach (Entry entry in _entries)
            HostView.Broadcast(communicator, entry.Buffer, root: 0);
        Remember();
    }

    /// <summary>Takes the buffers as they are now (initial, broadcast or loaded from a checkpoint) as the next step's start.</summary>
    public void Remember()
    {
        foreach (Entry entry in _entries)
            entry.Start.copy_(entry.Buffer);
    }

    /// <summary>Puts every buffer back to the step's start: each micro-batch is computed from the same model state.</summary>
    public void BeforeMicroBatch()
    {
        foreach (Entry entry in _entries)
            entry.Buffer.copy_(entry.Start);
    }

    /// <summary>Adds this micro-batch's weighted change of every buffer to <paramref name="changes"/> (the step buffer's slice).</summary>
    public void AddChange(Tensor changes, int position, int kappa)
    {
        using var scope = NewDisposeScope();
        foreach (Entry entry in _entries)
        {
            Tensor change = (entry.Buffer - entry.Start).flatten().to(ScalarType.Float32);
            changes.narrow(0, entry.Offset, entry.Buffer.numel()).add_(change, alpha: entry.Weight(position, kappa));
        }
    }

    /// <summary>After the all-reduce: every buffer becomes its start plus the summed changes of all κ micro-batches.</summary>
    public void Commit(Tensor summedChanges)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (Entry entry in _entries)
        {
            Tensor change = summedChanges.narrow(0, entry.Offset, entry.Buffer.numel()).view_as(entry.Buffer);
            entry.Buffer.copy_(entry.Buffer.is_floating_point()
                ? entry.Start + change.to(entry.Buffer.dtype)
                : entry.Start + change.round().to(entry.Buffer.dtype));
        }
        Remember();
    }

    /// <summary>The buffers by name as safetensors (Trace:Buffers: every rank's, after every step).</summary>
    public void Save(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        using FileStream file = File.Create(path);
        SafeTensorsFormat.Write(file, _entries.Select(entry => (entry.Name, entry.Buffer)).ToList(), new Dictionary<string, string> { ["format"] = "hpcadam-buffers/1" });
    }

    /// <summary>A skipped step changes nothing: the buffers go back to the step's start.</summary>
    public void Revert() => BeforeMicroBatch();

    /// <summary>
    /// Read after the micro-batch's forward, the counter is n + 1 (it started the micro-batch at n), and
    /// the forward moved the average by (x − r)/(n + 1) where a single process's κ would move it by Σ(x_k − r)/(n + κ).
    /// </summary>
    private static Func<int, int, double> CumulativeAverage(Tensor counter) =>
        (_, kappa) =>
        {
            double counted = counter.item<long>();
            return counted / (counted - 1 + kappa);
        };

    public void Dispose()
    {
        foreach (Entry entry in _entries)
            entry.Start.Dispose();
    }

    private sealed record Entry(string Name, Tensor Buffer, Tensor Start, long Offset, Func<int, int, double> Weight);
}
