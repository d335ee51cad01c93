using HpcAdam.Collectives;
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
/// Like the parameters (<see cref="FlatParameters"/>), the buffers of one dtype are views of one
/// contiguous block (<see cref="BufferBlock"/>: float32 statistics in one, int64 counters in
/// another), so restoring the start, taking a micro-batch's weighted change and committing the sum
/// are a few whole-block operations whatever the number of layers: one per run of buffers that
/// share a weight.
/// </summary>
internal sealed class ModelBuffers : IDisposable
{
    private readonly BufferBlock[] _blocks;

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
        var seen = new HashSet<IntPtr>();
        long offset = 0;
        _blocks = model.named_buffers().Where(named => seen.Add(named.buffer.Handle)).GroupBy(named => named.buffer.dtype).Select(group =>
        {
            var block = new BufferBlock(group.Select(named => (named.name, named.buffer, rules.GetValueOrDefault(named.buffer.Handle, (_, _) => 1.0))).ToList(), offset);
            offset += block.Count;
            return block;
        }).ToArray();
        Count = offset;
    }

    /// <summary>Elements of all buffers: the float32 slots their changes take in the step's buffer.</summary>
    public long Count { get; }

    /// <summary>Every rank takes rank 0's buffers, as it takes rank 0's initial weights.</summary>
    public void Broadcast(ICommunicator communicator)
    {
        foreach (BufferBlock block in _blocks)
            HostView.Broadcast(communicator, block.Values, root: 0);
        Remember();
    }

    /// <summary>Takes the buffers as they are now (initial, broadcast or loaded from a checkpoint) as the next step's start.</summary>
    public void Remember()
    {
        foreach (BufferBlock block in _blocks)
            block.Start.copy_(block.Values);
    }

    /// <summary>Puts every buffer back to the step's start: each micro-batch is computed from the same model state.</summary>
    public void BeforeMicroBatch()
    {
        foreach (BufferBlock block in _blocks)
            block.Values.copy_(block.Start);
    }

    /// <summary>Adds this micro-batch's weighted change of every buffer to <paramref name="changes"/> (the step buffer's slice).</summary>
    public void AddChange(Tensor changes, int position, int kappa)
    {
        using var scope = NewDisposeScope();
        foreach (BufferBlock block in _blocks)
            foreach ((long start, long count, double weight) in block.Runs(position, kappa))
            {
                Tensor change = (block.Values.narrow(0, start, count) - block.Start.narrow(0, start, count)).to(ScalarType.Float32);
                changes.narrow(0, block.Offset + start, count).add_(change, alpha: weight);
            }
    }

    /// <summary>After the all-reduce: every buffer becomes its start plus the summed changes of all κ micro-batches.</summary>
    public void Commit(Tensor summedChanges)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (BufferBlock block in _blocks)
        {
            Tensor change = summedChanges.narrow(0, block.Offset, block.Count);
            block.Values.copy_(block.Values.is_floating_point()
                ? block.Start + change.to(block.Values.dtype)
                : block.Start + change.round().to(block.Values.dtype));
        }
        Remember();
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
        foreach (BufferBlock block in _blocks)
            block.Dispose();
    }
}

/// <summary>
/// The model's buffers of one dtype as views of one contiguous block (<see cref="Values"/>), with
/// the step's start beside it and each buffer's weight rule; <see cref="Offset"/> is where the
/// block's changes sit among the step buffer's buffer changes.
/// </summary>
internal sealed class BufferBlock : IDisposable
{
    private readonly (long Start, long Count, Func<int, int, double> Weight)[] _entries;

    public BufferBlock(IReadOnlyList<(string Name, Tensor Buffer, Func<int, int, double> Weight)> buffers, long offset)
    {
        Count = buffers.Sum(entry => entry.Buffer.numel());
        Values = empty(Count, buffers[0].Buffer.dtype, buffers[0].Buffer.device);
        _entries = new (long, long, Func<int, int, double>)[buffers.Count];
        long start = 0;
        using (no_grad())
            for (int i = 0; i < buffers.Count; i++)
            {
                (string _, Tensor buffer, Func<int, int, double> weight) = buffers[i];
                using Tensor view = Values.narrow(0, start, buffer.numel()).view(buffer.shape);
                view.copy_(buffer);
                // The module keeps its tensor, which from now on lives in the block: nothing is copied between them again.
                buffer.set_(view);
                _entries[i] = (start, buffer.numel(), weight);
                start += buffer.numel();
            }
        Named = buffers.Select(entry => (entry.Name, entry.Buffer)).ToList();
        Start = Values.clone();
        Offset = offset;
    }

    public Tensor Values { get; }

    /// <summary>The values the step started with.</summary>
    public Tensor Start { get; }

    public long Count { get; }
    public long Offset { get; }
    public IReadOnlyList<(string Name, Tensor Buffer)> Named { get; }

    /// <summary>The block as runs of consecutive buffers that weigh micro-batch <paramref name="position"/> of κ alike: one operation each.</summary>
    public IEnumerable<(long Start, long Count, double Weight)> Runs(int position, int kappa)
    {
        (long start, long count, double weight) = (0, 0, double.NaN);
        foreach ((long entryStart, long entryCount, Func<int, int, double> rule) in _entries)
        {
            double entryWeight = rule(position, kappa);
            if (count > 0 && entryWeight != weight)
            {
                yield return (start, count, weight);
                (start, count) = (entryStart, 0);
            }
            (count, weight) = (count + entryCount, entryWeight);
        }
        if (count > 0)
            yield return (start, count, weight);
    }

    public void Dispose()
    {
        Start.Dispose();
        Values.Dispose();
    }
}
