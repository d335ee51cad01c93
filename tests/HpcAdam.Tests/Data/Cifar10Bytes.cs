namespace HpcAdam.Tests.Data;

/// <summary>
/// Writes CIFAR-10 binary batches byte by byte into a data folder laid out as scripts/fetch-data.sh
/// extracts them, so that the reader is tested against the format and not against itself.
/// </summary>
internal static class Cifar10Bytes
{
    public const int Plane = 32 * 32;
    public const int RecordBytes = 1 + 3 * Plane;

    public static string BatchFile(string dataDir, string file) => Path.Combine(dataDir, "cifar10", "cifar-10-batches-bin", file);

    /// <summary>One record: the label, then the red, green and blue planes, each all of one value.</summary>
    public static byte[] Record(byte label, byte red = 0, byte green = 0, byte blue = 0) =>
        [label, .. Enumerable.Repeat(red, Plane), .. Enumerable.Repeat(green, Plane), .. Enumerable.Repeat(blue, Plane)];

    public static void WriteBatch(string dataDir, string file, IEnumerable<byte[]> records)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(BatchFile(dataDir, file))!);
        File.WriteAllBytes(BatchFile(dataDir, file), [.. records.SelectMany(record => record)]);
    }
}
