using static TorchSharp.torch;

namespace HpcAdam.Tests.Training;

/// <summary>The feed hands out the planned micro-batches in order, whether gathered ahead on its thread or when taken.</summary>
public sealed class MicroBatchFeedTests
{
    [TestCase(true)]
    [TestCase(false)]
    public void MicroBatchesComeInPlanOrderWithTheSourcesSamples(bool prefetch)
    {
        var source = new CountingSource();
        using var feed = new MicroBatchFeed(source, CPU, prefetch);
        long[][] planned = [[3, 1], [0, 2], [5, 4], [7, 6], [9, 8]];
        feed.Plan(planned.Take(2));
        var taken = new List<long[]>();
        for (int i = 0; i < planned.Length; i++)
        {
            if (i == 2)
                feed.Plan(planned.Skip(2));   // the next step's, planned while this one is under way
            using MicroBatch microBatch = feed.Take();
            Assert.That(microBatch.Inputs[0].data<float>().ToArray(), Is.EqualTo(microBatch.Indices.Select(index => 10f * index)));
            Assert.That(microBatch.Target.data<long>().ToArray(), Is.EqualTo(microBatch.Indices));
            taken.Add(microBatch.Indices);
        }
        Assert.That(taken, Is.EqualTo(planned));
    }

    [Test]
    public void ASourceThatFailsOnTheBackgroundThreadFailsTheTakeThatNeededItInOneLine()
    {
        var source = new CountingSource { FailAt = 4 };
        using var feed = new MicroBatchFeed(source, CPU, prefetch: true);
        feed.Plan([[1], [4], [2]]);
        using (MicroBatch first = feed.Take())
            Assert.That(first.Indices, Is.EqualTo(new long[] { 1 }));
        var error = Assert.Throws<InvalidOperationException>(() => feed.Take());
        Assert.That(error!.Message, Is.EqualTo("gathering a micro-batch failed: sample 4 cannot be read"));
    }

    [Test]
    public void TensorsTheSourceKeepsSurviveTheMicroBatchesThatUsedThem()
    {
        var source = new KeepingSource();
        using (var feed = new MicroBatchFeed(source, CPU, prefetch: true))
        {
            feed.Plan([[0], [1]]);
            feed.Take().Dispose();
            feed.Take().Dispose();
        }
        Assert.That(source.Kept.data<float>().ToArray(), Is.EqualTo(new[] { 1f, 2f }));
    }

    [Test]
    public void DisposingWithMicroBatchesStillPlannedEndsTheGatherer()
    {
        var source = new CountingSource();
        var feed = new MicroBatchFeed(source, CPU, prefetch: true);
        feed.Plan(Enumerable.Range(0, 50).Select(index => new long[] { index }));
        feed.Take().Dispose();
        var disposing = Task.Run(feed.Dispose);
        Assert.That(disposing.Wait(TimeSpan.FromSeconds(30)), Is.True, "Dispose did not return");
        Assert.That(source.Calls, Is.LessThan(50), "the gatherer ran through the whole plan rather than stopping");
    }

    /// <summary>Sample i: input 10·i, target i.</summary>
    private sealed class CountingSource : IMicroBatchSource
    {
        private int _calls;

        public long? FailAt { get; init; }
        public int Calls => _calls;
        public long Count => 100;

        public MicroBatchTensors MicroBatch(long[] indices)
        {
            Interlocked.Increment(ref _calls);
            if (FailAt is { } failing && indices.Contains(failing))
                throw new IOException($"sample {failing} cannot be read");
            return (tensor(indices.Select(index => 10f * index).ToArray()), tensor(indices));
        }
    }

    /// <summary>Hands out the same input tensor every time, as a source over one in-memory tensor might.</summary>
    private sealed class KeepingSource : IMicroBatchSource
    {
        public Tensor Kept { get; } = tensor(new[] { 1f, 2f });
        public long Count => 2;
        public MicroBatchTensors MicroBatch(long[] indices) => (Kept, tensor(indices));
    }
}
