using System.IO.MemoryMappedFiles;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// One .npy file, open read-only, from which rows are read at the indices asked for and nothing else:
/// the file may be far larger than memory. Safe to use from several threads at once.
/// </summary>
internal sealed unsafe class NpyRowReader : IDisposable
{
    private readonly MemoryMappedFile _map;
    private readonly MemoryMappedViewAccessor _view;
    private readonly byte* _data;

    public NpyRowReader(string path)
    {
        Path = path;
        Header = NpyFile.ReadHeader(path);
        _map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, mapName: null, capacity: 0, MemoryMappedFileAccess.Read);
        _view = _map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* start = null;
        _view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        _data = start + _view.PointerOffset + Header.DataOffset;
    }

    public string Path { get; }
    public NpyHeader Header { get; }

    /// <summary>The rows at <paramref name="rows"/>, in that order: a tensor [rows.Length, …RowShape] of the file's type.</summary>
    public Tensor Read(long[] rows)
    {
        Tensor tensor = empty([rows.Length, .. Header.RowShape], Header.DType);
        Span<byte> destination = tensor.bytes;
        int rowBytes = checked((int)Header.RowBytes);
        // Consecutive rows are one read: an evaluation asks for them in order.
        for (int k = 0; k < rows.Length;)
        {
            int run = 1;
            while (k + run < rows.Length && rows[k + run] == rows[k] + run)
                run++;
            CopyRows(rows[k], run, destination.Slice(k * rowBytes, run * rowBytes));
            k += run;
        }
        return tensor;
    }

    /// <summary>Rows first … first + count − 1: a tensor [count, …RowShape].</summary>
    public Tensor Read(long first, long count)
    {
        Tensor tensor = empty([count, .. Header.RowShape], Header.DType);
        CopyRows(first, count, tensor.bytes);
        return tensor;
    }

    private void CopyRows(long first, long count, Span<byte> destination)
    {
        if (first < 0 || count < 0 || first + count > Header.Rows)
            throw new ArgumentOutOfRangeException(nameof(first), $"rows {first} … {first + count - 1} of {Path}, which has {Header.Rows}");
        new ReadOnlySpan<byte>(_data + first * Header.RowBytes, destination.Length).CopyTo(destination);
    }

    public void Dispose()
    {
        _view.SafeMemoryMappedViewHandle.ReleasePointer();
        _view.Dispose();
        _map.Dispose();
    }
}
