using System.Buffers.Binary;

namespace HpcAdam.Trainer.Data;

/// <summary>An IDX image file's contents: <c>Count</c> images of Rows × Columns bytes each, row-major.</summary>
internal sealed record IdxImages(byte[] Pixels, int Count, int Rows, int Columns);

/// <summary>
/// Reads IDX files of unsigned bytes, the format MNIST is distributed in: a big-endian magic
/// number (0x00000803 images [count, rows, columns], 0x00000801 labels [count]), each dimension
/// as a big-endian uint32, then the bytes. Anything inconsistent is a
/// <see cref="DataFileException"/> naming the file, with <c>remedy</c> as what to do.
/// </summary>
internal static class IdxFile
{
    public const uint ImagesMagic = 0x00000803;
    public const uint LabelsMagic = 0x00000801;

    // A header beyond these describes no small-image data set: it is corrupt, and trusting it
    // would mean allocating gigabytes before noticing.
    private const long MaxBytesPerItem = 1 << 20;

    public static IdxImages ReadImages(string path, string remedy)
    {
        var (dimensions, pixels) = Read(path, ImagesMagic, "images [count, rows, columns]", 3, remedy);
        return new IdxImages(pixels, (int)dimensions[0], (int)dimensions[1], (int)dimensions[2]);
    }

    public static byte[] ReadLabels(string path, string remedy) =>
        Read(path, LabelsMagic, "labels [count]", 1, remedy).Payload;

    private static (uint[] Dimensions, byte[] Payload) Read(string path, uint magic, string kind, int rank, string remedy)
    {
        if (!File.Exists(path))
            throw new DataFileException(path, "no such file", remedy);
        using var stream = File.OpenRead(path);
        int headerBytes = 4 + 4 * rank;
        Span<byte> header = stackalloc byte[headerBytes];
        if (stream.Length < headerBytes)
            throw new DataFileException(path, $"{stream.Length} bytes, shorter than the {headerBytes}-byte IDX header of {kind}", remedy);
        stream.ReadExactly(header);

        uint actualMagic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (actualMagic != magic)
        {
            string gzip = header[0] == 0x1f && header[1] == 0x8b ? " (it is gzip-compressed: gunzip it first)" : "";
            throw new DataFileException(path, $"magic number 0x{actualMagic:X8}, expected 0x{magic:X8} for IDX {kind}{gzip}", remedy);
        }

        var dimensions = new uint[rank];
        for (int i = 0; i < rank; i++)
            dimensions[i] = BinaryPrimitives.ReadUInt32BigEndian(header[(4 + 4 * i)..]);
        string shape = $"[{string.Join(", ", dimensions)}]";
        if (dimensions.Contains(0u))
            throw new DataFileException(path, $"header dimensions {shape} include a zero", remedy);
        long bytesPerItem = 1;
        foreach (uint dimension in dimensions.Skip(1))
            bytesPerItem = Math.Min(bytesPerItem * dimension, MaxBytesPerItem + 1); // clamped: cannot overflow
        if (bytesPerItem > MaxBytesPerItem || dimensions[0] > Array.MaxLength / bytesPerItem)
            throw new DataFileException(path, $"header dimensions {shape} are too large to be real: the header is corrupt", remedy);

        long payloadBytes = dimensions[0] * bytesPerItem;
        if (stream.Length != headerBytes + payloadBytes)
        {
            string which = stream.Length < headerBytes + payloadBytes ? "truncated" : "longer than its header says";
            throw new DataFileException(path, $"{which}: header dimensions {shape} need {headerBytes + payloadBytes} bytes, the file has {stream.Length}", remedy);
        }
        var payload = new byte[payloadBytes];
        stream.ReadExactly(payload);
        return (dimensions, payload);
    }
}
