using System.Buffers.Binary;
using System.Text;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// NumPy's .npy files, as <c>numpy.save</c> writes them: the magic <c>\x93NUMPY</c>, a version (1.0,
/// 2.0 or 3.0), the length of the header (two bytes in 1.0, four after), the header's dict
/// (<see cref="NpyHeader"/>; latin-1 text, UTF-8 from 3.0), then the array's bytes in C order.
/// </summary>
public static class NpyFile
{
    private static readonly byte[] s_magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    // The header grows by at most this much past numpy's own limits: a longer one is corrupt, not data.
    private const int MaxHeaderBytes = 1 << 20;

    // numpy pads the header so that the data starts on a multiple of 64 bytes.
    private const int Alignment = 64;

    /// <summary>
    /// The header of the file at <paramref name="path"/>, checked against the file: a file that is not a
    /// .npy, or holds an array this library does not read, or is shorter or longer than its header says,
    /// is a <see cref="DataFileException"/> naming the file and what is wrong, in one line.
    /// </summary>
    public static NpyHeader ReadHeader(string path)
    {
        if (!File.Exists(path))
            throw new DataFileException(path, "no such file", NpyHeader.Remedy);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 4096);
        Span<byte> preamble = stackalloc byte[12];
        int read = stream.ReadAtLeast(preamble, preamble.Length, throwOnEndOfStream: false);
        if (read < 10 || !preamble[..6].SequenceEqual(s_magic))
            throw new DataFileException(path, $"not a .npy file: it does not begin with the magic \\x93NUMPY ({Describe(preamble[..Math.Min(read, 6)])})", NpyHeader.Remedy);

        (byte major, byte minor) = (preamble[6], preamble[7]);
        if (major is not (1 or 2 or 3) || minor != 0)
            throw new DataFileException(path, $".npy version {major}.{minor}; versions 1.0, 2.0 and 3.0 are read", NpyHeader.Remedy);
        int lengthBytes = major == 1 ? 2 : 4;
        long headerLength = major == 1 ? BinaryPrimitives.ReadUInt16LittleEndian(preamble[8..]) : BinaryPrimitives.ReadUInt32LittleEndian(preamble[8..]);
        long dataOffset = 8 + lengthBytes + headerLength;
        if (read < 8 + lengthBytes || headerLength > MaxHeaderBytes || dataOffset > stream.Length)
            throw new DataFileException(path, $"truncated: the header says it takes {headerLength} bytes, the file has {stream.Length}", NpyHeader.Remedy);

        var dict = new byte[headerLength];
        stream.Position = 8 + lengthBytes;
        stream.ReadExactly(dict);
        Encoding encoding = major == 3 ? Encoding.UTF8 : Encoding.Latin1;
        NpyHeader header = NpyHeader.Parse(path, encoding.GetString(dict), dataOffset);

        long expected = dataOffset + header.DataBytes;
        if (stream.Length != expected)
        {
            string which = stream.Length < expected ? "truncated" : "longer than its header says";
            throw new DataFileException(path, $"{which}: {header} needs {expected} bytes, the file has {stream.Length}", NpyHeader.Remedy);
        }
        return header;
    }

    /// <summary>
    /// Writes <paramref name="array"/> (float32, uint8 or int64, on any device) as numpy.save would: the
    /// same bytes, version 1.0 (2.0 for a header too long for it), written to a temporary name and
    /// renamed, so a reader never sees half a file.
    /// </summary>
    public static void Write(string path, Tensor array)
    {
        if (!NpyHeader.IsSupported(array.dtype))
            throw new ArgumentException($"a {array.dtype} tensor: .npy files here hold float32, uint8 or int64", nameof(array));
        if (array.dim() == 0)
            throw new ArgumentException("a single value: an array to write needs at least one axis, its rows", nameof(array));

        byte[] header = Header(array.dtype, array.shape);
        string temporary = $"{path}.{Environment.ProcessId}.tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 1 << 20))
        {
            stream.Write(header);
            using Tensor host = array.cpu().contiguous();
            // A span holds under 2 GiB: write a large array in blocks of rows.
            long rowBytes = host.numel() == 0 ? 1 : host.numel() / host.shape[0] * host.element_size();
            long rowsPerBlock = Math.Max(1, (64L << 20) / rowBytes);
            for (long first = 0; first < host.shape[0]; first += rowsPerBlock)
            {
                using Tensor block = host.narrow(0, first, Math.Min(rowsPerBlock, host.shape[0] - first));
                stream.Write(block.bytes);
            }
        }
        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Magic, version, length and the dict padded with spaces and a newline to a multiple of 64 bytes.</summary>
    private static byte[] Header(ScalarType type, long[] shape)
    {
        string dict = NpyHeader.Dict(type, shape);
        int Padded(int preamble) => (preamble + dict.Length + 1 + Alignment - 1) / Alignment * Alignment - preamble;
        int major = Padded(10) <= ushort.MaxValue ? 1 : 2;
        int preamble = major == 1 ? 10 : 12;
        int padded = Padded(preamble);
        byte[] header = new byte[preamble + padded];
        s_magic.CopyTo(header, 0);
        (header[6], header[7]) = ((byte)major, 0);
        if (major == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), (ushort)padded);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), (uint)padded);
        Encoding.Latin1.GetBytes(dict.PadRight(padded - 1) + "\n", header.AsSpan(preamble));
        return header;
    }

    private static string Describe(ReadOnlySpan<byte> start) =>
        start.Length == 0 ? "the file is empty" : $"it begins with \"{string.Concat(start.ToArray().Select(b => b is >= 0x20 and < 0x7f ? ((char)b).ToString() : $"\\x{b:x2}"))}\"";
}
