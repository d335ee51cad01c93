using HpcAdam.Training;
using static TorchSharp.torch;

namespace SequenceClassifier;

/// <summary>
/// Noisy sine, square and sawtooth waves of random frequency and phase, labelled 0, 1 and 2:
/// generated from a seed, so every rank holds the same set without reading a file.
/// </summary>
public sealed class Waveforms(Tensor signals, Tensor labels) : IMicroBatchSource, IDisposable
{
    public const int Classes = 3;

    public long Count => labels.shape[0];

    public MicroBatchTensors MicroBatch(long[] indices)
    {
        using Tensor index = tensor(indices);
        return (signals.index_select(0, index), labels.index_select(0, index));
    }

    public static Waveforms Generate(int count, int length, int seed)
    {
        var random = new Random(seed);
        float[] samples = new float[count * length];
        long[] classes = new long[count];
        for (int i = 0; i < count; i++)
        {
            classes[i] = random.Next(Classes);
            double frequency = 1 + 4 * random.NextDouble(), phase = random.NextDouble();
            for (int t = 0; t < length; t++)
            {
                double cycle = (frequency * t / length + phase) % 1.0;
                double clean = classes[i] switch { 0 => Math.Sin(2 * Math.PI * cycle), 1 => cycle < 0.5 ? 1 : -1, _ => 2 * cycle - 1 };
                samples[i * length + t] = (float)(clean + 0.5 * (random.NextDouble() - 0.5));
            }
        }
        return new Waveforms(tensor(samples).reshape(count, 1, length), tensor(classes));
    }

    public void Dispose()
    {
        signals.Dispose();
        labels.Dispose();
    }
}
