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

    [Test]
    public void AMicroBatchLargerThanTheDataSetIsRefused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new MicroBatchStream(datasetSize: 5, microBatchSize: 6, seed: 0));
    }
}
