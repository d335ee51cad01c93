using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// The micro-batches this rank takes, in the order it takes them, gathered from the source and on
/// the training device before the step needs them (Train:Prefetch, docs/training.md, "Input"). A
/// background thread gathers each planned micro-batch and, for a GPU, copies it through pinned memory
/// without blocking (so the copy is queued behind the work already queued, and the host never waits
/// for the device), at most <see cref="Ahead"/> micro-batches ahead; the training thread takes them.
/// Without prefetching the same gather and copy run on the training thread when a micro-batch is
/// taken. Either way a micro-batch is the same tensors, so the results do not depend on the setting.
/// </summary>
internal sealed class MicroBatchFeed : IDisposable
{
    /// <summary>Micro-batches held ready at most: enough to hide a gather behind a micro-batch's compute.</summary>
    public const int Ahead = 2;

    private readonly IMicroBatchSource _data;
    private readonly Device _device;
    private readonly BlockingCollection<long[]> _planned = new();
    private readonly BlockingCollection<MicroBatch>? _ready;
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread? _gatherer;
    private Exception? _failure;

    public MicroBatchFeed(IMicroBatchSource data, Device device, bool prefetch)
    {
        (_data, _device) = (data, device);
        if (!prefetch)
            return;
        _ready = new BlockingCollection<MicroBatch>(Ahead);
        _gatherer = new Thread(GatherPlanned) { IsBackground = true, Name = "hpcadam micro-batch prefetch" };
        _gatherer.Start();
    }

    /// <summary>Micro-batches this rank will take next, in that order (their sample indices).</summary>
    public void Plan(IEnumerable<long[]> microBatches)
    {
        foreach (long[] indices in microBatches)
            _planned.Add(indices);
    }

    /// <summary>The next planned micro-batch, on the device; the caller disposes it.</summary>
    public MicroBatch Take()
    {
        if (_ready is null)
            return MicroBatch.Gather(_data, _planned.Take(), _device);
        try
        {
            return _ready.Take(_stop.Token);
        }
        catch (Exception error) when (error is InvalidOperationException or OperationCanceledException && _failure is not null)
        {
            throw new InvalidOperationException($"gathering a micro-batch failed: {_failure!.Message}", _failure);
        }
    }

    private void GatherPlanned()
    {
        try
        {
            foreach (long[] indices in _planned.GetConsumingEnumerable(_stop.Token))
            {
                MicroBatch microBatch = MicroBatch.Gather(_data, indices, _device);
                try
                {
                    _ready!.Add(microBatch, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    microBatch.Dispose();
                    throw;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception error)
        {
            _failure = error;
            _ready!.CompleteAdding();
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _gatherer?.Join();
        if (_ready is not null)
        {
            while (_ready.TryTake(out MicroBatch? left))
                left.Dispose();
            _ready.Dispose();
        }
        _planned.Dispose();
        _stop.Dispose();
    }
}

/// <summary>One micro-batch on the training device: its sample indices, the model's inputs, the loss's target and the units of its loss.</summary>
internal sealed record MicroBatch(long[] Indices, Tensor[] Inputs, Tensor Target, long? LossUnits) : IDisposable
{
    /// <summary>The samples at <paramref name="indices"/> from <paramref name="data"/>, on <paramref name="device"/>.</summary>
    public static MicroBatch Gather(IMicroBatchSource data, long[] indices, Device device)
    {
        using var scope = NewDisposeScope();
        MicroBatchTensors tensors = data.MicroBatch(indices);
        // New handles of their own, outliving the scope: the source may have handed out tensors it keeps.
        return new MicroBatch(indices, [.. tensors.Inputs.Select(input => Keep(input, device))], Keep(tensors.Target, device), tensors.LossUnits);
    }

    private static Tensor Keep(Tensor tensor, Device device) => ToDevice(tensor, device).detach().DetachFromDisposeScope();

    /// <summary>Pinned host memory lets the copy be queued without waiting; libtorch keeps the pinned block until the copy is done.</summary>
    private static Tensor ToDevice(Tensor tensor, Device device) =>
        device.type == DeviceType.CPU || tensor.device_type == device.type && tensor.device_index == device.index
            ? tensor
            : tensor.pin_memory().to(device, non_blocking: true);

    public void Dispose()
    {
        foreach (Tensor input in Inputs)
            input.Dispose();
        Target.Dispose();
    }
}
