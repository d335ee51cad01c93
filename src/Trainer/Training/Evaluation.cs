using HpcAdam.Collectives;
using HpcAdam.Trainer.Data;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// Test loss and accuracy over the first N samples of the test set (all of it by default), split
/// across ranks in contiguous shares (rank r takes [r·N/P, (r+1)·N/P)) and summed with one small
/// all-reduce, so every rank gets the same numbers and the result does not depend on P.
/// </summary>
internal static class Evaluation
{
    private const int Chunk = 500;

    /// <param name="samples">Test samples to use, from the first; 0 = all.</param>
    public static (double Loss, double Accuracy) Run(nn.Module<Tensor, Tensor> model, ImageClassificationSet test, int samples, ICommunicator communicator)
    {
        long count = samples == 0 ? test.Count : Math.Min(samples, test.Count);
        long first = count * communicator.Rank / communicator.Size, end = count * (communicator.Rank + 1) / communicator.Size;
        Span<double> sums = [0, 0, 0];   // loss sum, correct, samples
        model.eval();
        using (no_grad())
        {
            for (long start = first; start < end; start += Chunk)
            {
                using var scope = NewDisposeScope();
                long chunk = Math.Min(Chunk, end - start);
                Tensor images = test.Images.narrow(0, start, chunk), labels = test.Labels.narrow(0, start, chunk);
                Tensor output = model.forward(images);
                sums[0] += nn.functional.cross_entropy(output, labels, reduction: nn.Reduction.Sum).item<float>();
                sums[1] += output.argmax(1).eq(labels).sum().item<long>();
                sums[2] += chunk;
            }
        }
        model.train();
        communicator.AllReduceSum(sums);
        return (sums[0] / sums[2], sums[1] / sums[2]);
    }
}
