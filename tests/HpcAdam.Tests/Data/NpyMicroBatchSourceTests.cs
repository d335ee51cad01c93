using HpcAdam.Trainer.Data;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Data;

/// <summary>Micro-batches read from .npy files: the rows asked for, in order, as the tensors the built-in sets give.</summary>
[TestFixture]
public sealed class NpyMicroBatchSourceTests() : TemporaryDirectoryTest("hpcadam-npy-source-")
{
    [Test]
    public void Uint8ImagesAreTheFloatsOfTheInMemorySetBitForBit()
    {
        var random = new Random(3);
        var pixels = new byte[50 * 3 * 4 * 5];
        random.NextBytes(pixels);
        byte[] labels = [.. Enumerable.Range(0, 50).Select(i => (byte)(i % 10))];
        var statistics = new PixelStatistics([0.49, 0.48, 0.45], [0.25, 0.24, 0.26]);
        using ImageClassificationSet inMemory = ImageClassificationSet.FromPixels(pixels, labels, (3, 4, 5), statistics);
        using NpyMicroBatchSource source = Write(tensor(pixels, [50, 3, 4, 5]), tensor(labels), statistics);

        long[] indices = [17, 3, 49, 0, 3];
        using var scope = NewDisposeScope();
        (IReadOnlyList<Tensor> inputs, Tensor target) = source.MicroBatch(indices);
        Tensor input = inputs[0];
        (IReadOnlyList<Tensor> expectedInputs, Tensor expectedTarget) = inMemory.MicroBatch(indices);
        Tensor expectedInput = expectedInputs[0];

        Assert.That((input.dtype, input.shape), Is.EqualTo((ScalarType.Float32, expectedInput.shape)));
        Assert.That(input.bytes.ToArray(), Is.EqualTo(expectedInput.bytes.ToArray()), "the normalised pixels differ from the in-memory set's");
        Assert.That(target.dtype, Is.EqualTo(ScalarType.Int64), "uint8 labels must widen to int64 for cross-entropy");
        Assert.That(target.data<long>().ToArray(), Is.EqualTo(expectedTarget.data<long>().ToArray()));
    }

    [Test]
    public void FloatRowsComeAsTheyAreInTheShapeAskedFor()
    {
        using Tensor rows = randn(6, 12);
        using NpyMicroBatchSource source = Write(rows, arange(6, ScalarType.Int64), sampleShape: [3, 2, 2]);

        using var scope = NewDisposeScope();
        (IReadOnlyList<Tensor> inputs, Tensor target) = source.MicroBatch([4, 5, 1]);
        Tensor input = inputs[0];

        Assert.That(input.shape, Is.EqualTo(new long[] { 3, 3, 2, 2 }));
        Assert.That(input.bytes.ToArray(), Is.EqualTo(rows.index_select(0, tensor(new long[] { 4, 5, 1 })).bytes.ToArray()));
        Assert.That(target.data<long>().ToArray(), Is.EqualTo(new long[] { 4, 5, 1 }));
    }

    [Test]
    public void TheClassesAreOnePastTheLargestLabel()
    {
        using NpyMicroBatchSource source = Write(zeros(4, 2), tensor(new long[] { 3, 0, 6, 2 }));
        Assert.That(source.ClassCount(), Is.EqualTo(7));
    }

    [Test]
    public void ANegativeLabelIsRefusedNamingItsRow()
    {
        using NpyMicroBatchSource source = Write(zeros(4, 2), tensor(new long[] { 3, 0, -1, 2 }));
        Assert.That(() => source.ClassCount(), Throws.TypeOf<DataFileException>().With.Message.Contains("label -1 at row 2"));
    }

    [Test]
    public void FloatTargetsAreNoClassLabels()
    {
        using NpyMicroBatchSource source = Write(zeros(4, 2), zeros(4));
        Assert.That(() => source.ClassCount(), Throws.TypeOf<DataFileException>().With.Message.Contains("not class labels"));
    }

    [Test]
    public void InputsAndTargetsOfDifferentRowCountsAreRefused()
    {
        Assert.That(() => Write(zeros(4, 2), zeros(3, ScalarType.Int64)),
            Throws.TypeOf<DataFileException>().With.Message.Contains("3 rows of targets for the 4 rows of inputs"));
    }

    private NpyMicroBatchSource Write(Tensor inputs, Tensor targets, PixelStatistics? statistics = null, long[]? sampleShape = null)
    {
        string inputsPath = Path.Combine(TestDirectory, "inputs.npy"), targetsPath = Path.Combine(TestDirectory, "targets.npy");
        NpyFile.Write(inputsPath, inputs);
        NpyFile.Write(targetsPath, targets);
        return new NpyMicroBatchSource(inputsPath, targetsPath, statistics, sampleShape);
    }
}
