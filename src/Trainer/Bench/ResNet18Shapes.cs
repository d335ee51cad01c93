namespace HpcAdam.Trainer.Bench;

/// <summary>
/// The parameter tensors of torchvision's ResNet-18 (1000 classes), in its order: 62 tensors,
/// 11,689,512 parameters. A per-tensor optimizer pays a fixed cost per tensor, so timing it
/// over these shapes rather than one flat tensor shows what a real model costs it.
/// </summary>
internal static class ResNet18Shapes
{
    public const long ParameterCount = 11_689_512;

    private static readonly long[][] s_shapes = Build();

    /// <summary>
    /// Shapes totalling exactly <paramref name="parameterCount"/>: ResNet-18's tensors in order,
    /// starting again from conv1 after fc as often as needed; the first tensor that would pass
    /// the total is replaced by a 1-D tensor of what remains. So the default count is ResNet-18
    /// itself, a larger one is several ResNet-18s, and a smaller one is its first layers.
    /// </summary>
    public static List<long[]> ForParameterCount(long parameterCount)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parameterCount, 1);
        var shapes = new List<long[]>();
        for (long remaining = parameterCount, i = 0; remaining > 0; i++)
        {
            long[] shape = s_shapes[i % s_shapes.Length];
            long size = ElementCount(shape);
            shapes.Add(size <= remaining ? shape : [remaining]);
            remaining -= Math.Min(size, remaining);
        }
        return shapes;
    }

    public static long ElementCount(long[] shape) => shape.Aggregate(1L, (product, length) => product * length);

    /// <summary>As torchvision builds it: stem, four stages of two basic blocks, classifier.</summary>
    private static long[][] Build()
    {
        List<long[]> shapes = [[64, 3, 7, 7], [64], [64]];   // conv1, bn1 weight and bias
        long inputChannels = 64;
        foreach (long channels in new long[] { 64, 128, 256, 512 })
        {
            for (int block = 0; block < 2; block++)
            {
                // conv1, bn1, conv2, bn2 (each batch norm has a weight and a bias).
                shapes.AddRange([[channels, inputChannels, 3, 3], [channels], [channels], [channels, channels, 3, 3], [channels], [channels]]);
                // The first block of stages 2-4 halves the resolution and widens: a 1×1 convolution and a batch norm on the shortcut.
                if (inputChannels != channels)
                    shapes.AddRange([[channels, inputChannels, 1, 1], [channels], [channels]]);
                inputChannels = channels;
            }
        }
        shapes.AddRange([[1000, 512], [1000]]);   // fc weight and bias
        return [.. shapes];
    }
}
