using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>
/// ResNet-18 (He et al. 2016) in the variant usual for CIFAR-10: the stem is one 3×3 convolution of 64
/// channels and no max-pool, because ImageNet's 7×7 stride-2 convolution and pool would shrink a 32×32
/// image to 8×8 before the first block. Then four stages of two basic blocks, 64, 128, 256 and 512 channels,
/// the first block of stages 2–4 halving the resolution; global average pooling; a linear classifier.
/// </summary>
internal sealed class ResNet18 : nn.Module<Tensor, Tensor>
{
    private static readonly long[] s_stageChannels = [64, 128, 256, 512];

    [ComponentName(Name = "stem")] private readonly Sequential _stem;
    [ComponentName(Name = "stage1")] private readonly Sequential _stage1;
    [ComponentName(Name = "stage2")] private readonly Sequential _stage2;
    [ComponentName(Name = "stage3")] private readonly Sequential _stage3;
    [ComponentName(Name = "stage4")] private readonly Sequential _stage4;
    [ComponentName(Name = "pool")] private readonly AdaptiveAvgPool2d _pool;
    [ComponentName(Name = "head")] private readonly Linear _head;

    public ResNet18(long inputChannels, int classes, ResNetNorm norm) : base(nameof(ResNet18))
    {
        _stem = nn.Sequential(
            ("conv", nn.Conv2d(inputChannels, s_stageChannels[0], kernel_size: 3, padding: 1, bias: false)),
            ("norm", ResNetNorms.Create(norm, s_stageChannels[0])),
            ("relu", nn.ReLU()));
        _stage1 = Stage(s_stageChannels[0], s_stageChannels[0], stride: 1, norm);
        _stage2 = Stage(s_stageChannels[0], s_stageChannels[1], stride: 2, norm);
        _stage3 = Stage(s_stageChannels[1], s_stageChannels[2], stride: 2, norm);
        _stage4 = Stage(s_stageChannels[2], s_stageChannels[3], stride: 2, norm);
        _pool = nn.AdaptiveAvgPool2d(1);
        _head = nn.Linear(s_stageChannels[3], classes);
        RegisterComponents();
    }

    private static Sequential Stage(long inputChannels, long channels, long stride, ResNetNorm norm) => nn.Sequential(
        ("block0", new BasicBlock(inputChannels, channels, stride, norm)),
        ("block1", new BasicBlock(channels, channels, stride: 1, norm)));

    public override Tensor forward(Tensor input)
    {
        Tensor features = _stage4.call(_stage3.call(_stage2.call(_stage1.call(_stem.call(input)))));
        return _head.call(_pool.call(features).flatten(1));
    }
}
