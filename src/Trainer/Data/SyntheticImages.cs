namespace HpcAdam.Trainer.Data;

/// <summary>
/// A 10-class image set generated from a seed, shaped like MNIST (28 × 28 bytes), so that smoke
/// runs and tests train on something learnable with no download. Class c is a sine grating at
/// c · 18° with a wavelength of 7 pixels, at a random phase per image, plus uniform pixel noise:
/// the phase keeps a linear model from reading the class off single pixels.
/// </summary>
internal static class SyntheticImages
{
    public const int DefaultTrainCount = 5000;
    public const int DefaultTestCount = 1000;
    public const int Side = 28;

    private const double Amplitude = 0.35;
    private const double NoiseHalfWidth = 0.15;
    private const double Wavelength = 7;
    // The test split draws from a stream of its own: other images of the same classes.
    private const int TestStreamSalt = 0x5EED;

    /// <summary>
    /// A pixel is 0.5 + A·sin(·) + U(−B, B), which stays inside [0, 1] because A + B = 0.5. Over
    /// the random phase its mean is 0.5 and its variance A²/2 + B²/3.
    /// </summary>
    public static readonly PixelStatistics Statistics =
        new(0.5, Math.Sqrt(Amplitude * Amplitude / 2 + NoiseHalfWidth * NoiseHalfWidth / 3));

    /// <summary><paramref name="count"/> images, classes in turn 0, 1, …, 9, 0, …; the same for the same arguments.</summary>
    public static ImageClassificationSet Generate(int count, bool train, long seed)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        // System.Random takes an int: fold the 64-bit seed into one.
        var random = new Random(unchecked((int)seed ^ (int)(seed >> 32) ^ (train ? 0 : TestStreamSalt)));
        var pixels = new byte[count * Side * Side];
        var labels = new byte[count];
        for (int n = 0; n < count; n++)
        {
            int label = n % ImageClassificationSet.ClassCount;
            double angle = Math.PI * label / ImageClassificationSet.ClassCount;
            double kx = 2 * Math.PI / Wavelength * Math.Cos(angle);
            double ky = 2 * Math.PI / Wavelength * Math.Sin(angle);
            double phase = 2 * Math.PI * random.NextDouble();
            Span<byte> image = pixels.AsSpan(n * Side * Side, Side * Side);
            for (int y = 0; y < Side; y++)
            {
                for (int x = 0; x < Side; x++)
                {
                    double value = 0.5 + Amplitude * Math.Sin(kx * x + ky * y + phase) + NoiseHalfWidth * (2 * random.NextDouble() - 1);
                    image[y * Side + x] = (byte)Math.Round(255 * value);
                }
            }
            labels[n] = (byte)label;
        }
        return ImageClassificationSet.FromPixels(pixels, labels, (1, Side, Side), Statistics);
    }
}
