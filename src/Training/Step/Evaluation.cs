using HpcAdam.Collectives;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A user's metric over held-out data, called on every rank at Eval:Every and at the end with the
/// model in eval mode and gradients off; <see cref="DataParallelTrainer.Forward"/> gives the model's
/// output as the step computes it, and <see cref="DataParallelTrainer.Loss"/> is the trainer's loss.
/// The names become fields of the eval lines of metrics.jsonl and of summary.json, and TensorBoard
/// tags; rank 0's values are the ones written, so a metric that shares the work among ranks sums over
/// them (<see cref="Evaluation.Classification"/> does).
/// </summary>
public delegate IReadOnlyDictionary<string, double> Evaluator(DataParallelTrainer trainer, ICommunicator communicator, EvalSettings settings);

/// <summary>Ready-made evaluators.</summary>
public static class Evaluation
{
    /// <summary>
    /// test_loss (the trainer's loss, weighed by each batch's loss units: its samples, or the
    /// <see cref="MicroBatchTensors.LossUnits"/> it gives) and test_accuracy (argmax over the output's
    /// last dimension = target, over the target's elements that are not negative, so PyTorch's padding
    /// label −100 is not counted) over the first Eval:Samples samples of <paramref name="test"/> (all of
    /// them by default), in batches of Eval:BatchSize samples. Rank r takes the contiguous share
    /// [r·N/P, (r+1)·N/P) and one small all-reduce sums the shares, so every rank gets the same numbers whatever P.
    /// </summary>
    public static Evaluator Classification(IMicroBatchSource test) => (trainer, communicator, settings) =>
    {
        long count = settings.Samples == 0 ? test.Count : Math.Min(settings.Samples, test.Count);
        long first = count * communicator.Rank / communicator.Size, end = count * (communicator.Rank + 1) / communicator.Size;
        Span<double> sums = [0, 0, 0, 0];   // loss × units, units, correct, labelled elements
        Device device = trainer.Model.parameters().FirstOrDefault()?.device ?? CPU;   // the model's: the CPU, or this rank's GPU
        for (long start = first; start < end; start += settings.BatchSize)
        {
            using var scope = NewDisposeScope();
            long[] indices = [.. Enumerable.Range(0, (int)Math.Min(settings.BatchSize, end - start)).Select(i => start + i)];
            MicroBatchTensors batch = test.MicroBatch(indices);
            Tensor target = batch.Target.to(device);
            Tensor output = trainer.Forward([.. batch.Inputs.Select(input => input.to(device))]);
            long units = batch.LossUnits ?? indices.Length;
            sums[0] += trainer.Loss(output, target).item<float>() * (double)units;
            sums[1] += units;
            Tensor labelled = target.ge(0);
            sums[2] += output.argmax(-1).eq(target).logical_and(labelled).sum().item<long>();
            sums[3] += labelled.sum().item<long>();
        }
        communicator.AllReduceSum(sums);
        return new Dictionary<string, double> { ["test_loss"] = sums[0] / sums[1], ["test_accuracy"] = sums[2] / sums[3] };
    };
}
