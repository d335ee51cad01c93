using HpcAdam.Training;
using static TorchSharp.torch;

namespace TokenTagger;

/// <summary>
/// Sequences of 4 to <c>length</c> tokens from 1 … <see cref="Vocabulary"/> − 1, padded with 0 to
/// <c>length</c>; each real token is labelled 1 when it is above the mean of its sequence's tokens, and
/// padding is labelled −100, which the loss ignores. Generated from a seed, so every rank holds the same set.
/// A micro-batch gives the tokens and the mask as two inputs, and its real tokens as its loss units,
/// so a micro-batch of long sequences weighs more than one of short ones.
/// </summary>
public sealed class TokenSequences(Tensor tokens, Tensor mask, Tensor labels) : IMicroBatchSource, IDisposable
{
    public const int Vocabulary = 32;
    public const long Padding = -100;

    public long Count => tokens.shape[0];

    public MicroBatchTensors MicroBatch(long[] indices)
    {
        using Tensor index = tensor(indices);
        Tensor batchMask = mask.index_select(0, index);
        return new MicroBatchTensors([tokens.index_select(0, index), batchMask], labels.index_select(0, index))
        {
            LossUnits = batchMask.sum().item<long>(),
        };
    }

    public static TokenSequences Generate(int count, int length, int seed)
    {
        var random = new Random(seed);
        long[] ids = new long[count * length], real = new long[count * length], tags = new long[count * length];
        Array.Fill(tags, Padding);
        for (int i = 0; i < count; i++)
        {
            int used = random.Next(4, length + 1);
            long[] sequence = [.. Enumerable.Range(0, used).Select(_ => (long)random.Next(1, Vocabulary))];
            long sum = sequence.Sum();
            for (int t = 0; t < used; t++)
            {
                ids[i * length + t] = sequence[t];
                real[i * length + t] = 1;
                tags[i * length + t] = sequence[t] * used > sum ? 1 : 0;   // above the mean, without rounding
            }
        }
        return new TokenSequences(tensor(ids).reshape(count, length), tensor(real).reshape(count, length), tensor(tags).reshape(count, length));
    }

    public void Dispose()
    {
        tokens.Dispose();
        mask.Dispose();
        labels.Dispose();
    }
}
