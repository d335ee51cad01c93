using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A data set the trainer draws micro-batches from: the global micro-batch stream picks the sample
/// indices (a pure function of the seed, the epoch and the micro-batch's position, the same on every
/// rank and at every world size), and the source turns them into the tensors the model and the loss
/// take. Every rank reads the samples it is asked for: from memory, or from files it reads on demand.
/// </summary>
public interface IMicroBatchSource
{
    /// <summary>Samples in the set; the stream covers ⌊Count / Batch:MicroBatchSize⌋ micro-batches per epoch.</summary>
    long Count { get; }

    /// <summary>
    /// The samples at <paramref name="indices"/>, in that order: the model's inputs and the loss's target
    /// (a tuple <c>(input, target)</c> converts to a micro-batch of one input). Called inside a dispose
    /// scope, so the tensors may be temporaries. With Train:Prefetch (the default) it is called from a
    /// background thread, one call at a time, while the training thread computes.
    /// </summary>
    MicroBatchTensors MicroBatch(long[] indices);
}

/// <summary>
/// One micro-batch as a source gives it: the model's inputs (one tensor, or several such as tokens and
/// their padding mask), the loss's target, and what the micro-batch's mean loss is a mean over.
/// </summary>
/// <param name="Inputs">The model's inputs, in the order its forward takes them.</param>
/// <param name="Target">What the trainer's loss compares the model's output with.</param>
public sealed record MicroBatchTensors(IReadOnlyList<Tensor> Inputs, Tensor Target)
{
    /// <summary>
    /// The units the loss averages over when they are not the samples: the real tokens of a token-level
    /// loss that ignores padding. The trainer then weighs this micro-batch's loss and gradient by its
    /// units (docs/ALGORITHMS.md, "Micro-batches of unequal weight"); null weighs every micro-batch alike.
    /// </summary>
    public long? LossUnits { get; init; }

    public static implicit operator MicroBatchTensors((Tensor Input, Tensor Target) sample) => new([sample.Input], sample.Target);
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
