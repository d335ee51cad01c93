using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>ResNet-18's normalisation layers: the paper trains it with batch norm (Fig. 1) and with layer norm (Fig. 2).</summary>
internal enum ResNetNorm
{
    BatchNorm,
    LayerNorm,
}

internal static class ResNetNorms
{
    /// <summary>The names Model:Norm takes, in the order of <see cref="ResNetNorm"/>.</summary>
    public static readonly string[] Names = ["batchnorm", "layernorm"];

    public static ResNetNorm? Parse(string name) => Array.IndexOf(Names, name) is var index and >= 0 ? (ResNetNorm)index : null;

    public static nn.Module<Tensor, Tensor> Create(ResNetNorm norm, long channels) => norm switch
    {
        ResNetNorm.BatchNorm => nn.BatchNorm2d(channels),
        // Layer norm over (C, H, W) of each sample would need the spatial size at construction, and
        // that changes from stage to stage and from data set to data set. GroupNorm with one group
        // normalises exactly those values, whatever H and W, with a per-channel scale and shift; it
        // keeps no running statistics, so a sample's output never depends on the rest of its batch.
        ResNetNorm.LayerNorm => LayerNormOverChannelsAndSpace(channels),
        _ => throw new ArgumentOutOfRangeException(nameof(norm), norm, "not a normalisation"),
    };

    private static GroupNorm LayerNormOverChannelsAndSpace(long channels)
    {
        GroupNorm norm = nn.GroupNorm(1, channels);
        // TorchSharp 0.107 leaves GroupNorm's scale and shift uninitialised memory (NaN, 1e38, and
        // different from run to run); start them where PyTorch does, at 1 and 0.
        nn.init.ones_(norm.weight!);
        nn.init.zeros_(norm.bias!);
        return norm;
    }
}
