using System.Buffers.Binary;
using System.Numerics;
using System.Text;

namespace HpcAdam.Tests.Training;

/// <summary>
/// Reads a TensorBoard event file from the format's definition rather than with the TorchSharp code
/// that wrote it, so a test checks the file TensorBoard will read: TFRecord framing with both CRCs
/// checked, then the Event fields a scalar has (wall_time, step, file_version, summary's tag and simple_value).
/// </summary>
internal static class TensorBoardEventFile
{
    public sealed record Contents(string? FileVersion, IReadOnlyList<Scalar> Scalars);

    public readonly record struct Scalar(long Step, string Tag, float Value, double WallTime);

    public static Contents Read(string path)
    {
        byte[] file = File.ReadAllBytes(path);
        string? fileVersion = null;
        var scalars = new List<Scalar>();
        int at = 0;
        // A record: uint64 length, masked CRC-32C of those 8 bytes, the data, masked CRC-32C of the data; all little-endian.
        while (at < file.Length)
        {
            ReadOnlyMemory<byte> length = Take(8);
            Check(length.Span, Take(4).Span, "length");
            ReadOnlyMemory<byte> data = Take(checked((int)BinaryPrimitives.ReadUInt64LittleEndian(length.Span)));
            Check(data.Span, Take(4).Span, "data");
            ReadEvent(data, ref fileVersion, scalars);
        }
        return new Contents(fileVersion, scalars);

        ReadOnlyMemory<byte> Take(int count)
        {
            if (count > file.Length - at)
                throw new InvalidDataException($"{path}: a record is cut short at byte {at}");
            at += count;
            return file.AsMemory(at - count, count);
        }

        void Check(ReadOnlySpan<byte> bytes, ReadOnlySpan<byte> stored, string what)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(stored) != MaskedCrc32C(bytes))
                throw new InvalidDataException($"{path}: the CRC of a record's {what} does not match, before byte {at}");
        }
    }

    /// <summary>CRC-32C (Castagnoli), masked as TFRecord stores it so that a CRC of data holding CRCs stays well distributed.</summary>
    public static uint MaskedCrc32C(ReadOnlySpan<byte> bytes)
    {
        uint crc = Crc32C(bytes);
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8;
    }

    public static uint Crc32C(ReadOnlySpan<byte> bytes)
    {
        uint crc = uint.MaxValue;
        foreach (byte b in bytes)
            crc = BitOperations.Crc32C(crc, b);
        return ~crc;
    }

    // Event { double wall_time = 1; int64 step = 2; string file_version = 3; Summary summary = 5; ... }
    private static void ReadEvent(ReadOnlyMemory<byte> data, ref string? fileVersion, List<Scalar> scalars)
    {
        double wallTime = 0;
        long step = 0;
        var values = new List<(string Tag, float Value)>();
        var fields = new ProtobufFields(data);
        while (fields.Next(out int field, out int wireType))
        {
            switch (field, wireType)
            {
                case (1, ProtobufFields.Fixed64): wallTime = BitConverter.Int64BitsToDouble((long)fields.Fixed64Value()); break;
                case (2, ProtobufFields.Varint): step = (long)fields.VarintValue(); break;
                case (3, ProtobufFields.LengthDelimited): fileVersion = Encoding.UTF8.GetString(fields.Bytes().Span); break;
                case (5, ProtobufFields.LengthDelimited): ReadSummary(fields.Bytes(), values); break;
                default: fields.Skip(wireType); break;
            }
        }
        // Fields may come in any order, so the step is known only once the whole event is read.
        scalars.AddRange(values.Select(value => new Scalar(step, value.Tag, value.Value, wallTime)));
    }

    // Summary { repeated Value value = 1; }  Value { string tag = 1; float simple_value = 2; ... }
    private static void ReadSummary(ReadOnlyMemory<byte> data, List<(string, float)> values)
    {
        var summary = new ProtobufFields(data);
        while (summary.Next(out int field, out int wireType))
        {
            if ((field, wireType) != (1, ProtobufFields.LengthDelimited))
            {
                summary.Skip(wireType);
                continue;
            }
            // Protobuf leaves out a field at its default, so a missing tag is "" and a missing simple_value 0.
            string tag = "";
            float simpleValue = 0;
            var value = new ProtobufFields(summary.Bytes());
            while (value.Next(out int valueField, out int valueWireType))
            {
                switch (valueField, valueWireType)
                {
                    case (1, ProtobufFields.LengthDelimited): tag = Encoding.UTF8.GetString(value.Bytes().Span); break;
                    case (2, ProtobufFields.Fixed32): simpleValue = BitConverter.Int32BitsToSingle((int)value.Fixed32Value()); break;
                    default: value.Skip(valueWireType); break;
                }
            }
            values.Add((tag, simpleValue));
        }
    }

    /// <summary>The fields of one protobuf message, in the order they were written.</summary>
    private sealed class ProtobufFields(ReadOnlyMemory<byte> message)
    {
        public const int Varint = 0, Fixed64 = 1, LengthDelimited = 2, Fixed32 = 5;

        private int _at;

        public bool Next(out int field, out int wireType)
        {
            (field, wireType) = (0, 0);
            if (_at == message.Length)
                return false;
            ulong key = VarintValue();
            (field, wireType) = ((int)(key >> 3), (int)(key & 7));
            if (field == 0)
                throw new InvalidDataException("a protobuf field numbered 0");
            return true;
        }

        public ulong VarintValue()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = Take(1).Span[0];
                value |= (ulong)(b & 0x7f) << shift;
                if (b < 0x80)
                    return value;
            }
            throw new InvalidDataException("a protobuf varint runs past 10 bytes");
        }

        public ulong Fixed64Value() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8).Span);

        public uint Fixed32Value() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4).Span);

        public ReadOnlyMemory<byte> Bytes() => Take(checked((int)VarintValue()));

        public void Skip(int wireType)
        {
            _ = wireType switch
            {
                Varint => VarintValue(),
                Fixed64 => Fixed64Value(),
                LengthDelimited => (ulong)Bytes().Length,
                Fixed32 => Fixed32Value(),
                _ => throw new InvalidDataException($"protobuf wire type {wireType} (a group, or not protobuf)"),
            };
        }

        private ReadOnlyMemory<byte> Take(int count)
        {
            if (count > message.Length - _at)
                throw new InvalidDataException("a protobuf message is cut short");
            _at += count;
            return message.Slice(_at - count, count);
        }
    }
}
