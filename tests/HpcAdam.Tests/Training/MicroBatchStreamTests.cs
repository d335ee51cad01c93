using HpcAdam.Trainer.Data;

namespace HpcAdam.Tests.Training;

/// <summary>The global micro-batch stream is a pure function of (seed, epoch, index) and covers each epoch once.</summary>
public sealed class MicroBatchStreamTests
{
    [Test]
    public void EachEpochIsAPermutationAndTheOrderDependsOnlyOnSeedAndIndex()
    {
        var stream = new MicroBatchStream(datasetSize: 103, microBatchSize: 10, seed: 5);
        long[] epoch0 = Enumerable.Range(0, 10).SelectMany(i => stream.Indices(i)).ToArray();
        long[] epoch1 = Enumerable.Range(10, 10).SelectMany(i => stream.Indices(i)).ToArray();

        Assert.That(stream.MicroBatchesPerEpoch, Is.EqualTo(10));
        Assert.That(epoch0, Is.Unique.And.All.InRange(0L, 102L));
        Assert.That(epoch1, Is.Unique);
        Assert.That(epoch1, Is.Not.EqualTo(epoch0), "a new epoch reshuffles");
        // Asked out of order, by a fresh stream, the same index gives the same samples.
        var other = new MicroBatchStream(103, 10, seed: 5);
        Assert.That(other.Indices(13), Is.EqualTo(stream.Indices(13)));
        Assert.That(other.Indices(2), Is.EqualTo(epoch0[20..30]));
        Assert.That(new MicroBatchStream(103, 10, seed: 6).Indices(0), Is.Not.EqualTo(stream.Indices(0)));
    }

    /// <summary>
    /// Golden indices, recorded from the stream when it was written: a change to the permutation
    /// would silently change every run's data order, break resume from older checkpoints and the
    /// sweep's "same samples" promise, and must show up here first.
    /// </summary>
    [TestCase(60000, 25, 0, 0, new long[] { 17103, 3854, 34173, 44489, 57167, 51101, 4008, 54553 })]
    [TestCase(60000, 25, 0, 1, new long[] { 37353, 42725, 54760, 44407, 12588, 45900, 10695, 52864 })]
    [TestCase(60000, 25, 0, 2399, new long[] { 48873, 58567, 34678, 59004, 44839, 57397, 40278, 42594 })]
    [TestCase(60000, 25, 0, 2400, new long[] { 12873, 42828, 28705, 851, 45150, 47736, 21000, 42110 })]   // the next epoch
    [TestCase(5000, 16, 7, 3, new long[] { 1304, 4201, 1870, 1308, 4518, 1715, 4091, 501 })]
    public void TheStreamIsTheOneRecorded(int datasetSize, int microBatchSize, long seed, long index, long[] firstIndices)
    {
        Assert.That(new MicroBatchStream(datasetSize, microBatchSize, seed).Indices(index).Take(8), Is.EqualTo(firstIndices));
    }

    [Test]
    public void AMicroBatchLargerThanTheDataSetIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MicroBatchStream(datasetSize: 5, microBatchSize: 6, seed: 0));
    }
}
