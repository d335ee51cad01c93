using System.Globalization;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// What the header of a .npy file says: the element type, the shape (row = the first axis), and the
/// byte at which the data starts. The header is a Python dict literal,
/// <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (60000, 1, 28, 28), }</c>, padded with
/// spaces to a multiple of 64 bytes; only little-endian float32 (<c>&lt;f4</c>), uint8 (<c>|u1</c>) and
/// int64 (<c>&lt;i8</c>) arrays in C order are read, the types a model's inputs and targets come in.
/// </summary>
public sealed record NpyHeader(ScalarType DType, IReadOnlyList<long> Shape, long DataOffset)
{
    public long Rows => Shape[0];

    /// <summary>The shape of one row: <see cref="Shape"/> without its first axis.</summary>
    public long[] RowShape => [.. Shape.Skip(1)];

    /// <summary>Values in one row.</summary>
    public long RowElements => Shape.Skip(1).Aggregate(1L, (product, length) => checked(product * length));

    public long RowBytes => checked(RowElements * Known(DType).Size);

    /// <summary>The bytes the data takes: the file's length is <see cref="DataOffset"/> plus this.</summary>
    public long DataBytes => checked(Rows * RowBytes);

    /// <summary>"uint8 [60000, 1, 28, 28]": the type and shape, for messages.</summary>
    public override string ToString() => $"{Known(DType).Name} [{string.Join(", ", Shape)}]";

    internal const string Remedy = "save it with numpy.save from a C-ordered float32, uint8 or int64 array, or with NpyFile.Write";

    /// <summary>The types read and written: TorchSharp's, numpy's <c>descr</c> of it, its name in messages, its size in bytes.</summary>
    private static readonly (ScalarType Type, string Descr, string Name, int Size)[] s_types =
        [(ScalarType.Float32, "<f4", "float32", 4), (ScalarType.Byte, "|u1", "uint8", 1), (ScalarType.Int64, "<i8", "int64", 8)];

    internal static bool IsSupported(ScalarType type) => s_types.Any(known => known.Type == type);

    private static (ScalarType Type, string Descr, string Name, int Size) Known(ScalarType type) => s_types.Single(known => known.Type == type);

    /// <summary>The header's dict as numpy writes it: the keys in order, room after the shape to grow it in place.</summary>
    internal static string Dict(ScalarType type, IReadOnlyList<long> shape)
    {
        string dimensions = shape.Count == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        // numpy leaves 21 − (digits of the row count) spaces, so that appending rows can rewrite the shape in place.
        int growth = shape.Count == 0 ? 0 : 21 - shape[0].ToString(CultureInfo.InvariantCulture).Length;
        return $"{{'descr': '{Known(type).Descr}', 'fortran_order': False, 'shape': {dimensions}, }}" + new string(' ', growth);
    }

    /// <summary>The header's dict, read and checked; a problem is a <see cref="DataFileException"/> naming <paramref name="path"/>.</summary>
    internal static NpyHeader Parse(string path, string dict, long dataOffset)
    {
        Dictionary<string, object> entries;
        try
        {
            entries = NpyHeaderDict.Read(dict);
        }
        catch (FormatException error)
        {
            throw new DataFileException(path, $"the header {dict.Trim()} cannot be read: {error.Message}", Remedy);
        }
        object descr = Entry(path, entries, "descr");
        if (Entry(path, entries, "fortran_order") is not false)
            throw new DataFileException(path, "the array is in Fortran order (column-major); rows must lie one after the other",
                "save numpy.ascontiguousarray(array) with numpy.save");
        if (Entry(path, entries, "shape") is not long[] shape)
            throw new DataFileException(path, "the header's shape is not a tuple of whole numbers", Remedy);
        if (shape.Length == 0)
            throw new DataFileException(path, "the array is a single value (shape ()), with no rows", "save an array whose first axis runs over the samples");
        var header = new NpyHeader(Type(path, descr), shape, dataOffset);
        try
        {
            _ = checked(header.DataBytes + dataOffset);
        }
        catch (OverflowException)
        {
            throw new DataFileException(path, $"the shape {header} is too large to be real: the header is corrupt", Remedy);
        }
        return header;
    }

    private static object Entry(string path, Dictionary<string, object> entries, string key) =>
        entries.TryGetValue(key, out object? value) ? value : throw new DataFileException(path, $"the header has no '{key}'", Remedy);

    private static ScalarType Type(string path, object descr)
    {
        if (descr is not string text)
            throw new DataFileException(path, "the dtype is structured (a record of fields); only plain float32, uint8 and int64 arrays are read", Remedy);
        // One-byte types have no byte order: numpy writes '|u1', a hand-made header may say '<u1'.
        string normalised = text is "<u1" or ">u1" or "=u1" or "u1" ? "|u1" : text;
        if (s_types.FirstOrDefault(known => known.Descr == normalised) is { Descr: not null } found)
            return found.Type;
        string littleEndian = $"<{text.TrimStart('>')}";
        if (text.StartsWith('>') && s_types.Any(known => known.Descr == littleEndian))
            throw new DataFileException(path, $"dtype '{text}' ({NumpyName(text)}, big-endian) is not supported: only little-endian arrays are read",
                $"save array.astype('{littleEndian}')");
        string order = text.StartsWith('>') ? ", big-endian" : "";
        throw new DataFileException(path, $"dtype '{text}' ({NumpyName(text)}{order}) is not supported: only float32 ('<f4'), uint8 ('|u1') and int64 ('<i8') are read",
            "convert it first, e.g. array.astype(numpy.float32) for inputs or array.astype(numpy.int64) for class labels");
    }

    /// <summary>'&lt;f8' → float64, '|b1' → bool: numpy's name for a descr, for messages.</summary>
    private static string NumpyName(string descr)
    {
        string code = descr.TrimStart('<', '>', '|', '=');
        if (code.Length < 2 || !int.TryParse(code[1..], NumberStyles.None, CultureInfo.InvariantCulture, out int bytes))
            return "an unknown type";
        return code[0] switch
        {
            'f' => $"float{8 * bytes}",
            'i' => $"int{8 * bytes}",
            'u' => $"uint{8 * bytes}",
            'c' => $"complex{8 * bytes}",
            'b' => "bool",
            _ => "an unknown type",
        };
    }
}
