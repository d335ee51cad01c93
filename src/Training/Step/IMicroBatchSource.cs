using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A data set the trainer draws micro-batches from: the global micro-batch stream picks the sample
/// indices (a pure function of the seed, the epoch and the micro-batch's position, the same on every
/// rank and at every world size), and the source turns them into the tensors the model and the loss
/// take. Every rank holds the whole source, or at least the samples it is asked for.
/// </summary>
public interface IMicroBatchSource
{
    /// <summary>Samples in the set; the stream covers ⌊Count / Batch:MicroBatchSize⌋ micro-batches per epoch.</summary>
    long Count { get; }

    /// <summary>
    /// The samples at <paramref name="indices"/>, in that order: the model's input and the loss's target.
    /// Called inside a dispose scope, so the tensors may be temporaries. With Train:Prefetch (the
    /// default) it is called from a background thread, one call at a time, while the training
    /// thread computes.
    /// </summary>
    (Tensor Input, Tensor Target) MicroBatch(long[] indices);
}

/// <summary>
/// A source that can hold its samples on the training device, so that a micro-batch is gathered
/// there rather than copied there (the built-in sets: Data:Placement). The trainer calls
/// <see cref="PlaceOn"/> once, on every rank, with the rank's device, before the first step.
/// </summary>
public interface IDevicePlacement
{
    void PlaceOn(Device device);
}
