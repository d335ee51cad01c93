using HpcAdam.Collectives;
using HpcAdam.Training;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Training;

/// <summary>The step's buffer: what it holds after the all-reduce, with micro-batches of equal and of unequal weight.</summary>
[TestFixture]
public sealed class StepBufferTests
{
    private static readonly float[][] s_gradients = [[1f, -2f], [3f, 0.5f], [-1f, 4f]];
    private static readonly float[] s_losses = [0.5f, 1.5f, 2.5f];

    [Test]
    public void MicroBatchesOfEqualWeightAreSummedAsTheyAre()
    {
        using StepBuffer buffer = Filled(units: null);
        Assert.That(buffer.S1.data<float>().ToArray(), Is.EqualTo(new[] { 3f, 2.5f }));
        Assert.That(buffer.S2.data<float>().ToArray(), Is.EqualTo(new[] { 11f, 20.25f }));
        Assert.That(buffer.MeanLoss, Is.EqualTo(1.5).Within(1e-9));
        Assert.That(buffer.TotalSamples, Is.EqualTo(3 * 8));
    }

    [Test]
    public void MicroBatchesThatGiveLossUnitsAreWeighedByThemSoS1OverKappaIsTheMeanOverUnits()
    {
        long[] units = [10, 30, 60];
        using StepBuffer buffer = Filled(units);
        // By hand: S1 = κ·Σ T_k g_k / Σ T_k, S2 = κ·Σ T_k g_k² / Σ T_k, the loss Σ T_k ℓ_k / Σ T_k.
        const int kappa = 3;
        double total = units.Sum();
        double[] s1 = [.. Enumerable.Range(0, 2).Select(j => kappa * Enumerable.Range(0, 3).Sum(k => units[k] * s_gradients[k][j]) / total)];
        double[] s2 = [.. Enumerable.Range(0, 2).Select(j => kappa * Enumerable.Range(0, 3).Sum(k => units[k] * s_gradients[k][j] * s_gradients[k][j]) / total)];
        Assert.That(buffer.S1.data<float>().ToArray(), Is.EqualTo(s1).Within(1e-5));
        Assert.That(buffer.S2.data<float>().ToArray(), Is.EqualTo(s2).Within(1e-5));
        Assert.That(buffer.MeanLoss, Is.EqualTo(Enumerable.Range(0, 3).Sum(k => units[k] * s_losses[k]) / total).Within(1e-6));
        Assert.That(buffer.TotalSamples, Is.EqualTo(3 * 8), "samples are still counted as samples");
    }

    [Test]
    public void SquaresInBfloat16AreRoundedForTheSumAndWidenedBackWhileS1StaysFloat32()
    {
        // g = 1.00390625 = 1 + 2^-8: S1 needs float32; S2 = 3·g² = 3.02348… rounds to the bfloat16 3.03125.
        float[][] gradients = [[1.00390625f, 0.1f], [1.00390625f, 0.2f], [1.00390625f, 0.3f]];
        using StepBuffer float32 = Filled(null, gradients, ScalarType.Float32), bfloat16 = Filled(null, gradients, ScalarType.BFloat16);

        Assert.That(bfloat16.S1.data<float>().ToArray(), Is.EqualTo(float32.S1.data<float>().ToArray()));
        using Tensor rounded = float32.S2.to(ScalarType.BFloat16).to(ScalarType.Float32);
        Assert.That(bfloat16.S2.data<float>().ToArray(), Is.EqualTo(rounded.data<float>().ToArray()));
        Assert.That(bfloat16.S2.data<float>()[0], Is.EqualTo(3.03125f));
        Assert.That(bfloat16.S2.dtype, Is.EqualTo(ScalarType.Float32));
    }

    [Test]
    public void TheBytesSummedAreCountedAndBfloat16SquaresSaveTwoBytesPerParameter()
    {
        // 2 parameters, no buffers, 9 scalars on one rank: [S1 | scalars | S2] in float32 is 4·(2 + 9 + 2) bytes.
        using StepBuffer float32 = Filled(null, s_gradients, ScalarType.Float32), bfloat16 = Filled(null, s_gradients, ScalarType.BFloat16);
        Assert.That(float32.AllReduceBytes, Is.EqualTo(4 * (2 + 9 + 2)));
        Assert.That(bfloat16.AllReduceBytes, Is.EqualTo(4 * (2 + 9) + 2 * 2));
    }

    [Test]
    public void ANonFiniteSquareIsSeenWithSquaresInBfloat16()
    {
        using StepBuffer poisoned = Filled(null, s_gradients, ScalarType.BFloat16, buffer => buffer.Poison(lossOnly: false));
        Assert.That(poisoned.AnyNonFinite, Is.True);
        Assert.That(float.IsNaN(poisoned.S2.data<float>()[0]), Is.True, "a NaN stays a NaN in bfloat16");

        // A square finite in float32 but beyond bfloat16's largest value (3.3895e38) rounds to infinity: the step is skipped.
        float[][] huge = [[1.8441e19f, 1f]];
        using StepBuffer overflowing = Filled(null, huge, ScalarType.BFloat16), kept = Filled(null, huge, ScalarType.Float32);
        Assert.That((overflowing.AnyNonFinite, kept.AnyNonFinite), Is.EqualTo((true, false)));
        Assert.That(float.IsPositiveInfinity(overflowing.S2.data<float>()[0]), Is.True);
    }

    [Test]
    public void UnitWeightsRescaleTheWidenedSquares()
    {
        long[] units = [10, 30, 60];
        using StepBuffer float32 = Filled(units, s_gradients, ScalarType.Float32), bfloat16 = Filled(units, s_gradients, ScalarType.BFloat16);
        Assert.That(bfloat16.S2.data<float>().ToArray(), Is.EqualTo(float32.S2.data<float>().ToArray()).Within(0.5).Percent);
        Assert.That(bfloat16.S1.data<float>().ToArray(), Is.EqualTo(float32.S1.data<float>().ToArray()));
    }

    /// <summary>
    /// Buckets of 40000 elements become two of 65536 (whole chunks of 32768) and the rest; they arrive in order, cover S1 and S2
    /// once, and leave the bytes of one call: S2 widened from bfloat16 and both rescaled by loss units bucket by bucket.
    /// </summary>
    [Test]
    public void BucketsArriveInOrderOnWholeChunksAndLeaveTheBytesOfOneCall()
    {
        const int length = 3 * (1 << 15) + 13;
        using var generator = new TorchSharp.torch.Generator(3);
        float[][] gradients = [.. Enumerable.Range(0, 3).Select(_ => randn(length, generator: generator).data<float>().ToArray())];
        long[] units = [10, 30, 60];
        using StepBuffer whole = Filled(units, gradients, ScalarType.BFloat16);
        using var bucketed = new StepBuffer(length, bufferElements: 0, rank: 0, ranks: 1, squaresPrecision: ScalarType.BFloat16, bucketElements: 40000);
        bucketed.Clear();
        for (int k = 0; k < gradients.Length; k++)
        {
            using Tensor gradient = tensor(gradients[k]), loss = tensor(s_losses[k]);
            bucketed.Add(gradient, loss, samples: 8, units[k]);
        }
        var arrived = new List<ParameterRange>();
        foreach (ParameterRange bucket in bucketed.ReduceInBuckets(new SingleProcessCommunicator(), stopRequested: false))
        {
            Assert.That(bucketed.MeanLoss, Is.EqualTo(whole.MeanLoss), "the scalars are read before the first bucket");
            arrived.Add(bucket);
        }
        Assert.That(arrived, Is.EqualTo(new[] { new ParameterRange(0, 65536), new ParameterRange(65536, length - 65536) }));
        Assert.That(bucketed.BucketCount, Is.EqualTo(2));
        Assert.That(bucketed.S1.bytes.ToArray(), Is.EqualTo(whole.S1.bytes.ToArray()));
        Assert.That(bucketed.S2.bytes.ToArray(), Is.EqualTo(whole.S2.bytes.ToArray()));
        Assert.That(bucketed.AllReduceBytes, Is.EqualTo(whole.AllReduceBytes));
    }

    /// <summary>Three micro-batches of 8 samples, reduced on one process.</summary>
    private static StepBuffer Filled(long[]? units) => Filled(units, s_gradients, ScalarType.Float32);

    /// <summary>A micro-batch of 8 samples per gradient, S2 sent in <paramref name="squaresPrecision"/>, reduced on one process.</summary>
    private static StepBuffer Filled(long[]? units, float[][] gradients, ScalarType squaresPrecision, Action<StepBuffer>? beforeReduce = null)
    {
        var buffer = new StepBuffer(gradients[0].Length, bufferElements: 0, rank: 0, ranks: 1, squaresPrecision: squaresPrecision);
        buffer.Clear();
        for (int k = 0; k < gradients.Length; k++)
        {
            using Tensor gradient = tensor(gradients[k]), loss = tensor(s_losses[k]);
            buffer.Add(gradient, loss, samples: 8, units?[k]);
        }
        beforeReduce?.Invoke(buffer);
        buffer.Reduce(new SingleProcessCommunicator(), stopRequested: false);
        return buffer;
    }
}
