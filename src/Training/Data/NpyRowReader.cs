using Microsoft.Win32.SafeHandles;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// One .npy file, open read-only, from which rows are read at the indices asked for and nothing else:
/// the file may be far larger than memory. Safe to use from several threads at once.
/// </summary>
/// <remarks>
/// Rows are copied with positioned reads (pread), not from a memory map of the file: every page a map
/// touches stays in the process's resident set until the map goes, and on Linux a fault maps a whole
/// read-ahead folio, so a map of a 2 GiB file was 0.9 GiB resident after 500 random rows and the whole
/// file after 25,600 (docs/training.md, "Data larger than memory"). A read leaves the pages in the page
/// cache, shared and reclaimable, and the process holds only the micro-batch it asked for.
/// </remarks>
internal sealed class NpyRowReader : IDisposable
{
    private readonly SafeFileHandle _file;

    public NpyRowReader(string path)
    {
        Path = path;
        Header = NpyFile.ReadHeader(path);
        _file = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
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
        long offset = Header.DataOffset + first * Header.RowBytes;
        while (destination.Length > 0)
        {
            int read = RandomAccess.Read(_file, destination, offset);
            if (read == 0)
                throw new DataFileException(Path, $"ends at byte {offset}, inside the rows its header promised: it was cut short while open", NpyHeader.Remedy);
            destination = destination[read..];
            offset += read;
        }
    }

    public void Dispose() => _file.Dispose();
}
