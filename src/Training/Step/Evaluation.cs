using HpcAdam.Collectives;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A user's metric over held-out data, called on every rank at Eval:Every and at the end with the
/// model in eval mode and gradients off. The names become fields of the eval lines of
/// metrics.jsonl and of summary.json, and TensorBoard tags; rank 0's values are the ones written,
/// so a metric that shares the work among ranks sums over them (<see cref="Evaluation.Classification"/> does).
/// </summary>
public delegate IReadOnlyDictionary<string, double> Evaluator(nn.Module<Tensor, Tensor> model, ICommunicator communicator, EvalSettings settings);

/// <summary>Ready-made evaluators.</summary>
public static class Evaluation
{
    /// <summary>
    /// test_loss (mean cross-entropy) and test_accuracy (argmax = target) over the first
    /// Eval:Samples samples of <paramref name="test"/> (all of them by default), in forward passes
    /// of Eval:BatchSize samples. Rank r takes the contiguous share [r·N/P, (r+1)·N/P) and one small
    /// all-reduce sums the shares, so every rank gets the same numbers whatever P.
    /// </summary>
    public static Evaluator Classification(IMicroBatchSource test) => (model, communicator, settings) =>
    {
        long count = settings.Samples == 0 ? test.Count : Math.Min(settings.Samples, test.Count);
        long first = count * communicator.Rank / communicator.Size, end = count * (communicator.Rank + 1) / communicator.Size;
        Span<double> sums = [0, 0, 0];   // loss sum, correct, samples
        Device device = model.parameters().FirstOrDefault()?.device ?? CPU;   // the model's: the CPU, or this rank's GPU
        for (long start = first; start < end; start += settings.BatchSize)
        {
            using var scope = NewDisposeScope();
            long[] indices = [.. Enumerable.Range(0, (int)Math.Min(settings.BatchSize, end - start)).Select(i => start + i)];
            (Tensor input, Tensor target) = test.MicroBatch(indices);
            (input, target) = (input.to(device), target.to(device));
            // call, not forward: a bfloat16 model's hooks cast the input and the output (Train:Precision).
            Tensor output = model.call(input);
            sums[0] += nn.functional.cross_entropy(output, target, reduction: nn.Reduction.Sum).item<float>();
            sums[1] += output.argmax(1).eq(target).sum().item<long>();
            sums[2] += indices.Length;
        }
        communicator.AllReduceSum(sums);
        return new Dictionary<string, double> { ["test_loss"] = sums[0] / sums[2], ["test_accuracy"] = sums[1] / sums[2] };
    };
}
