using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// A data set larger than memory: inputs and targets in two .npy files (<see cref="NpyFile"/>), sample n
/// in row n of each. Both stay on disk, open read-only on every rank, and a micro-batch reads its own
/// rows and no others. A micro-batch's input is [n, …SampleShape]: float32 rows as they are, uint8
/// rows (images) as float32 scaled to [0, 1] and normalised by <see cref="PixelStatistics"/>, int64
/// rows (token ids) as they are. Its target is the target rows, uint8 widened to int64 for cross-entropy.
/// </summary>
/// <remarks>
/// Not an <see cref="IDevicePlacement"/>: a set that does not fit in host memory does not fit on a GPU
/// either; the trainer copies each micro-batch there through pinned memory while the GPU computes.
/// </remarks>
public sealed class NpyMicroBatchSource : IMicroBatchSource, IDisposable
{
    // Rows of targets read at a time when they are scanned for the classes: 8 MiB of int64 labels.
    private const long ScanRows = 1 << 20;

    private readonly NpyRowReader _inputs, _targets;
    private readonly PixelStatistics _pixels;
    private readonly long[] _sampleShape;

    /// <param name="pixels">How uint8 inputs are normalised; pixels only scaled to [0, 1] when null.</param>
    /// <param name="sampleShape">The shape one input takes (e.g. [1, 28, 28] for rows saved as [28, 28] or [784]);
    /// the rows' own shape when null. Normalisation's channels are its first axis.</param>
    /// <exception cref="DataFileException">A file that cannot be read, or the two files' rows differ in number.</exception>
    public NpyMicroBatchSource(string inputsPath, string targetsPath, PixelStatistics? pixels = null, long[]? sampleShape = null)
    {
        _inputs = new NpyRowReader(inputsPath);
        try
        {
            _targets = new NpyRowReader(targetsPath);
        }
        catch
        {
            _inputs.Dispose();
            throw;
        }
        _pixels = pixels ?? PixelStatistics.UnitInterval;
        _sampleShape = sampleShape ?? Inputs.RowShape;
        if (Targets.Rows != Inputs.Rows)
        {
            Dispose();
            throw new DataFileException(targetsPath, $"{Targets.Rows} rows of targets for the {Inputs.Rows} rows of inputs in {inputsPath}",
                "row n of the targets must be the target of row n of the inputs: save both from the same samples");
        }
        if (_sampleShape.Aggregate(1L, (product, length) => product * length) != Inputs.RowElements)
        {
            Dispose();
            throw new ArgumentException($"a sample of [{string.Join(", ", _sampleShape)}] is not a row of {inputsPath}, [{string.Join(", ", Inputs.RowShape)}]", nameof(sampleShape));
        }
    }

    public long Count => Inputs.Rows;
    public NpyHeader Inputs => _inputs.Header;
    public NpyHeader Targets => _targets.Header;

    /// <summary>One input's shape, as <see cref="MicroBatch"/> returns it after the batch axis.</summary>
    public IReadOnlyList<long> SampleShape => _sampleShape;

    /// <summary>Reads the rows at <paramref name="indices"/> of both files; safe on a background thread.</summary>
    public MicroBatchTensors MicroBatch(long[] indices)
    {
        Tensor input = _inputs.Read(indices).view([indices.Length, .. _sampleShape]);
        if (input.dtype == ScalarType.Byte)
            input = _pixels.Normalise(input);
        Tensor target = _targets.Read(indices);
        if (target.dtype == ScalarType.Byte)
            target = target.to_type(ScalarType.Int64);
        return (input, target);
    }

    /// <summary>
    /// 1 + the largest target, for a classifier's outputs: one pass over the targets file, a block of rows
    /// at a time. Targets must be class labels: uint8 or int64, one per row, none negative.
    /// </summary>
    public long ClassCount()
    {
        if (Targets.DType == ScalarType.Float32 || Targets.Shape.Count != 1)
            throw new DataFileException(_targets.Path, $"{Targets} are not class labels, which are one uint8 or int64 per row",
                "save the labels as a 1-dimensional uint8 or int64 array");
        long largest = -1;
        for (long first = 0; first < Targets.Rows; first += ScanRows)
        {
            using var scope = NewDisposeScope();
            Tensor labels = _targets.Read(first, Math.Min(ScanRows, Targets.Rows - first)).to_type(ScalarType.Int64);
            Tensor smallest = labels.argmin();
            if (labels[smallest].item<long>() < 0)
                throw new DataFileException(_targets.Path, $"label {labels[smallest].item<long>()} at row {first + smallest.item<long>()} is negative",
                    "class labels run from 0 to the number of classes − 1");
            largest = Math.Max(largest, labels.max().item<long>());
        }
        return largest + 1;
    }

    public void Dispose()
    {
        _inputs.Dispose();
        _targets.Dispose();
    }
}
