namespace HpcAdam.Trainer.Models;

/// <summary>The shape of one input image: channels, then height and width in pixels.</summary>
internal readonly record struct ImageShape(int Channels, int Height, int Width)
{
    /// <summary>Values per image, the input width of a model on flattened images.</summary>
    public long Elements => (long)Channels * Height * Width;
}
