using static TorchSharp.torch;

namespace HpcAdam.Trainer.Models;

/// <summary>
/// A small convolutional network, cheap enough to train on CPUs: two 3×3 convolutions (32 and 64
/// channels), each followed by ReLU and a 2×2 max-pool, then a hidden layer of 128 and the classes.
/// </summary>
internal static class SmallCnn
{
    private const int HiddenWidth = 128;

    public static nn.Module<Tensor, Tensor> Create(ImageShape shape, int classes)
    {
        // Each pool halves the sides, rounding down: 28 → 14 → 7, 32 → 16 → 8.
        long pooledPixels = (long)(shape.Height / 4) * (shape.Width / 4);
        return nn.Sequential(
            ("conv1", nn.Conv2d(shape.Channels, 32, kernel_size: 3, padding: 1)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(kernel_size: 2)),
            ("conv2", nn.Conv2d(32, 64, kernel_size: 3, padding: 1)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(kernel_size: 2)),
            ("flatten", nn.Flatten()),
            ("hidden", nn.Linear(64 * pooledPixels, HiddenWidth)),
            ("relu3", nn.ReLU()),
            ("out", nn.Linear(HiddenWidth, classes)));
    }
}
