using System.Buffers.Binary;
using System.Text;

namespace HpcAdam.Tests.Data;

/// <summary>
/// Writes .npy files byte by byte, with any version and any header dict, so that the reader is tested
/// against the format (and against files no writer of ours would make) rather than against itself.
/// </summary>
internal static class NpyBytes
{
    public static void Write(string path, string dict, byte[] payload, int major = 1)
    {
        int preamble = major == 1 ? 10 : 12;
        // numpy's padding: spaces and a newline to a multiple of 64 bytes.
        int padded = (preamble + dict.Length + 1 + 63) / 64 * 64 - preamble;
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([(byte)major, 0]);
        var length = new byte[preamble - 8];
        if (major == 1)
            BinaryPrimitives.WriteUInt16LittleEndian(length, (ushort)padded);
        else
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)padded);
        bytes.AddRange(length);
        bytes.AddRange((major == 3 ? Encoding.UTF8 : Encoding.Latin1).GetBytes(dict.PadRight(padded - 1) + "\n"));
        bytes.AddRange(payload);
        File.WriteAllBytes(path, [.. bytes]);
    }

    /// <summary>The dict numpy writes for a C-ordered array of <paramref name="descr"/> and <paramref name="shape"/> (a Python tuple).</summary>
    public static string Dict(string descr, string shape, bool fortranOrder = false) =>
        $"{{'descr': '{descr}', 'fortran_order': {(fortranOrder ? "True" : "False")}, 'shape': {shape}, }}";
}
