using HpcAdam.Collectives;
using HpcAdam.Trainer.Data;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Training;

/// <summary>
/// Test loss and accuracy over the whole test set, split across ranks in contiguous shares
/// (rank r takes [r·N/P, (r+1)·N/P)) and summed with one small all-reduce, so every rank gets
/// the same numbers and the result does not depend on P.
/// </summary>
internal static class Evaluation
{
    private const int Chunk = 500;

    public static (double Loss, double Accuracy) Run(nn.Module<Tensor, Tensor> model, ImageClassificationSet test, ICommunicator communicator)
    {
        long first = test.Count * communicator.Rank / communicator.Size, end = test.Count * (communicator.Rank + 1) / communicator.Size;
        Span<double> sums = [0, 0, 0];   // loss sum, correct, samples
        model.eval();
        using (no_grad())
        {
            for (long start = first; start < end; start += Chunk)
            {
                using var scope = NewDisposeScope();
                long count = Math.Min(Chunk, end - start);
                Tensor images = test.Images.narrow(0, start, count), labels = test.Labels.narrow(0, start, count);
                Tensor output = model.forward(images);
                sums[0] += nn.functional.cross_entropy(output, labels, reduction: nn.Reduction.Sum).item<float>();
                sums[1] += output.argmax(1).eq(labels).sum().item<long>();
                sums[2] += count;
            }
        }
        model.train();
        communicator.AllReduceSum(sums);
        return (sums[0] / sums[2], sums[1] / sums[2]);
    }
}
