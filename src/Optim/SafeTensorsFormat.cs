using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// The safetensors layout (8-byte little-endian header length, a JSON header naming each
/// tensor's dtype, shape and byte range, then the raw little-endian data) over a stream, so
/// optimizer state and checkpoints are in the format the field reads. String metadata rides in
/// the header's "__metadata__".
/// </summary>
public static class SafeTensorsFormat
{
    private const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100 << 20;

    public static void Write(Stream stream, IReadOnlyList<(string Name, torch.Tensor Tensor)> tensors, IReadOnlyDictionary<string, string> metadata)
    {
        var header = new JsonObject { [MetadataKey] = new JsonObject(metadata.Select(entry => KeyValuePair.Create(entry.Key, (JsonNode?)entry.Value))) };
        long offset = 0;
        foreach ((string name, torch.Tensor tensor) in tensors)
        {
            long bytes = tensor.numel() * tensor.element_size();
            header[name] = new JsonObject
            {
                ["dtype"] = DtypeName(tensor.dtype, name),
                ["shape"] = new JsonArray(tensor.shape.Select(size => (JsonNode?)size).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
        }
        byte[] json = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - json.Length % 8) % 8;   // the data starts 8-byte aligned, as the format recommends
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)(json.Length + padding));
        stream.Write(length);
        stream.Write(json);
        stream.Write(Encoding.ASCII.GetBytes(new string(' ', padding)));
        foreach ((string name, torch.Tensor tensor) in tensors)
        {
            using torch.Tensor host = tensor.detach().cpu().contiguous();
            stream.Write(host.bytes);
        }
    }

    /// <summary>Reads every tensor onto the CPU; throws <see cref="InvalidDataException"/> naming what is wrong.</summary>
    public static (Dictionary<string, torch.Tensor> Tensors, Dictionary<string, string> Metadata) Read(Stream stream)
    {
        Span<byte> length = stackalloc byte[8];
        ReadExactly(stream, length, "the header length");
        ulong headerBytes = BinaryPrimitives.ReadUInt64LittleEndian(length);
        if (headerBytes == 0 || headerBytes > MaxHeaderBytes)
            throw new InvalidDataException($"not a safetensors file: header length {headerBytes}");
        byte[] json = new byte[headerBytes];
        ReadExactly(stream, json, "the header");
        JsonObject header;
        try
        {
            header = JsonNode.Parse(json)?.AsObject() ?? throw new InvalidDataException("not a safetensors file: empty header");
        }
        catch (Exception error) when (error is JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"not a safetensors file: the header is not a JSON object ({error.Message})", error);
        }

        var metadata = new Dictionary<string, string>();
        if (header[MetadataKey] is JsonObject fields)
            foreach ((string key, JsonNode? value) in fields)
                metadata[key] = value?.GetValue<string>() ?? "";

        var entries = header.Where(entry => entry.Key != MetadataKey)
            .Select(entry => (Name: entry.Key, Entry: Parse(entry.Key, entry.Value)))
            .OrderBy(entry => entry.Entry.Begin)
            .ToList();
        var tensors = new Dictionary<string, torch.Tensor>();
        long expectedBegin = 0;
        foreach ((string name, (torch.ScalarType dtype, long[] shape, long begin, long end)) in entries)
        {
            if (begin != expectedBegin)
                throw new InvalidDataException($"tensor '{name}' starts at byte {begin}, expected {expectedBegin}: the file is damaged");
            var tensor = torch.empty(shape, dtype);
            if (tensor.numel() * tensor.element_size() != end - begin)
                throw new InvalidDataException($"tensor '{name}' has {end - begin} bytes for shape [{string.Join(",", shape)}]: the file is damaged");
            ReadExactly(stream, tensor.bytes, $"tensor '{name}'");
            tensors[name] = tensor;
            expectedBegin = end;
        }
        return (tensors, metadata);
    }

    private static (torch.ScalarType Dtype, long[] Shape, long Begin, long End) Parse(string name, JsonNode? node)
    {
        try
        {
            torch.ScalarType dtype = node!["dtype"]!.GetValue<string>() switch
            {
                "F32" => torch.ScalarType.Float32,
                "F64" => torch.ScalarType.Float64,
                "I64" => torch.ScalarType.Int64,
                string other => throw new InvalidDataException($"tensor '{name}' has dtype {other}; HpcAdam reads F32, F64 and I64"),
            };
            long[] shape = node["shape"]!.AsArray().Select(size => size!.GetValue<long>()).ToArray();
            JsonArray offsets = node["data_offsets"]!.AsArray();
            return (dtype, shape, offsets[0]!.GetValue<long>(), offsets[1]!.GetValue<long>());
        }
        catch (Exception error) when (error is NullReferenceException or InvalidOperationException or FormatException)
        {
            throw new InvalidDataException($"tensor '{name}' has a malformed header entry: the file is damaged", error);
        }
    }

    private static string DtypeName(torch.ScalarType dtype, string name) => dtype switch
    {
        torch.ScalarType.Float32 => "F32",
        torch.ScalarType.Float64 => "F64",
        torch.ScalarType.Int64 => "I64",
        _ => throw new ArgumentException($"tensor '{name}' is {dtype}; HpcAdam writes float32, float64 and int64", nameof(dtype)),
    };

    private static void ReadExactly(Stream stream, Span<byte> buffer, string what)
    {
        try
        {
            stream.ReadExactly(buffer);
        }
        catch (EndOfStreamException error)
        {
            throw new InvalidDataException($"the file ends inside {what}: it is truncated", error);
        }
    }
}
