using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>
/// ResNet's basic block: two 3×3 convolutions, each followed by a normalisation, added to a shortcut,
/// then ReLU. The shortcut is the input itself, or a 1×1 convolution and a normalisation where the
/// block changes the resolution or the width, so that the sum has matching shapes.
/// </summary>
internal sealed class BasicBlock : nn.Module<Tensor, Tensor>
{
    // The component names are the tensor names in checkpoints, so they are spelled out rather than
    // taken from the field names.
    [ComponentName(Name = "conv1")] private readonly Conv2d _conv1;
    [ComponentName(Name = "norm1")] private readonly nn.Module<Tensor, Tensor> _norm1;
    [ComponentName(Name = "conv2")] private readonly Conv2d _conv2;
    [ComponentName(Name = "norm2")] private readonly nn.Module<Tensor, Tensor> _norm2;
    [ComponentName(Name = "shortcut")] private readonly Sequential? _shortcut;

    public BasicBlock(long inputChannels, long channels, long stride, ResNetNorm norm) : base(nameof(BasicBlock))
    {
        // No convolution has a bias: the normalisation after it has its own shift.
        _conv1 = nn.Conv2d(inputChannels, channels, kernel_size: 3, stride: stride, padding: 1, bias: false);
        _norm1 = ResNetNorms.Create(norm, channels);
        _conv2 = nn.Conv2d(channels, channels, kernel_size: 3, padding: 1, bias: false);
        _norm2 = ResNetNorms.Create(norm, channels);
        if (stride != 1 || inputChannels != channels)
            _shortcut = nn.Sequential(
                ("conv", nn.Conv2d(inputChannels, channels, kernel_size: 1, stride: stride, bias: false)),
                ("norm", ResNetNorms.Create(norm, channels)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input)
    {
        Tensor residual = _norm2.call(_conv2.call(_norm1.call(_conv1.call(input)).relu()));
        Tensor shortcut = _shortcut is null ? input : _shortcut.call(input);
        return (residual + shortcut).relu();
    }
}
