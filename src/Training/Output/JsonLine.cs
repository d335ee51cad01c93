using System.Text;
using System.Text.Json;

namespace HpcAdam.Training;

/// <summary>
/// One JSON object on one line, written field by field in a fixed order so that
/// metrics.jsonl reads the same on every run. A non-finite number is written as null: JSON has
/// no NaN, and a reader must see "no value" rather than fail to parse the line.
/// </summary>
internal sealed class JsonLine : IDisposable
{
    private readonly MemoryStream _bytes = new();
    private readonly Utf8JsonWriter _writer;

    public JsonLine()
    {
        _writer = new Utf8JsonWriter(_bytes);
        _writer.WriteStartObject();
    }

    public JsonLine Add(string name, string value)
    {
        _writer.WriteString(name, value);
        return this;
    }

    public JsonLine Add(string name, long value)
    {
        _writer.WriteNumber(name, value);
        return this;
    }

    public JsonLine Add(string name, bool value)
    {
        _writer.WriteBoolean(name, value);
        return this;
    }

    public JsonLine Add(string name, double? value)
    {
        if (value is { } number && double.IsFinite(number))
            _writer.WriteNumber(name, number);
        else
            _writer.WriteNull(name);
        return this;
    }

    public JsonLine Add(string name, IEnumerable<long[]> lists)
    {
        _writer.WriteStartArray(name);
        foreach (long[] list in lists)
        {
            _writer.WriteStartArray();
            foreach (long value in list)
                _writer.WriteNumberValue(value);
            _writer.WriteEndArray();
        }
        _writer.WriteEndArray();
        return this;
    }

    /// <summary>Closes the object and returns its text; call once.</summary>
    public string Complete()
    {
        _writer.WriteEndObject();
        _writer.Flush();
        return Encoding.UTF8.GetString(_bytes.ToArray());
    }

    public void Dispose()
    {
        _writer.Dispose();
        _bytes.Dispose();
    }
}
