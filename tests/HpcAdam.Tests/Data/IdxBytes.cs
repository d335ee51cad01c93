using System.Buffers.Binary;

namespace HpcAdam.Tests.Data;

/// <summary>Writes IDX files byte by byte, so that the reader is tested against the format and not against itself.</summary>
internal static class IdxBytes
{
    public static void Write(string path, uint magic, uint[] dimensions, byte[] payload)
    {
        var bytes = new byte[4 + 4 * dimensions.Length + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, magic);
        for (int i = 0; i < dimensions.Length; i++)
            BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(4 + 4 * i), dimensions[i]);
        payload.CopyTo(bytes, 4 + 4 * dimensions.Length);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, bytes);
    }

    public static void WriteImages(string path, int rows, int columns, byte[] pixels) =>
        Write(path, 0x00000803, [(uint)(pixels.Length / (rows * columns)), (uint)rows, (uint)columns], pixels);

    public static void WriteLabels(string path, byte[] labels) =>
        Write(path, 0x00000801, [(uint)labels.Length], labels);
}
