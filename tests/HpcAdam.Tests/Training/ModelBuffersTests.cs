using HpcAdam.Trainer.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Training;

/// <summary>
/// The buffers' merge rule against its known answer: one process running the step's κ
/// micro-batches one after another through plain TorchSharp, with no HpcAdam code in the way.
/// </summary>
public sealed class ModelBuffersTests
{
    private const int Kappa = 5, Features = 3;

    [TestCase(0.1)]
    [TestCase(0.5)]
    [TestCase(null)]   // cumulative average
    public void MergedChangesInAnyOrderEqualOneProcessRunningTheMicroBatchesInTurn(double? momentum)
    {
        using var scope = NewDisposeScope();
        Tensor[] microBatches = MicroBatches();
        BatchNorm1d sequential = Norm(momentum), merged = Norm(momentum);
        foreach (Tensor warmUp in microBatches.Take(2))
        {
            // Both start from the same history, so a cumulative average has n = 2 batches behind it.
            sequential.forward(warmUp);
            merged.forward(warmUp);
        }
        foreach (Tensor microBatch in microBatches)
            sequential.forward(microBatch);

        using var buffers = new ModelBuffers(merged);
        Tensor changes = zeros(buffers.Count);
        // The ranks' order: micro-batches k ≡ r (mod P) on rank r, summed in rank order.
        foreach (int k in new[] { 1, 3, 0, 2, 4 })
        {
            buffers.BeforeMicroBatch();
            merged.forward(microBatches[k]);
            buffers.AddChange(changes, k, Kappa);
        }
        buffers.Commit(changes);

        Assert.Multiple(() =>
        {
            Assert.That(Difference(merged.running_mean!, sequential.running_mean!), Is.LessThan(1e-6));
            Assert.That(Difference(merged.running_var!, sequential.running_var!), Is.LessThan(1e-6));
            Assert.That(merged.num_batches_tracked!.item<long>(), Is.EqualTo(2 + Kappa));
        });
    }

    [Test]
    public void OnlyRankZerosMicroBatchesAsDdpKeepsThemIsFarFromTheSequentialResult()
    {
        // What the test above would miss if the merge kept one rank's statistics or forgot a weight.
        using var scope = NewDisposeScope();
        Tensor[] microBatches = MicroBatches();
        BatchNorm1d all = Norm(0.1), rankZero = Norm(0.1);
        foreach (Tensor microBatch in microBatches)
            all.forward(microBatch);
        foreach (int k in new[] { 0, 2, 4 })
            rankZero.forward(microBatches[k]);
        Assert.That(Difference(rankZero.running_mean!, all.running_mean!), Is.GreaterThan(1e-2));
    }

    [Test]
    public void AnyOtherBufferAddsItsChangesAndASkippedStepChangesNothing()
    {
        using var scope = NewDisposeScope();
        using var counter = new SampleCounter();
        using var buffers = new ModelBuffers(counter);
        Tensor changes = zeros(buffers.Count);
        Tensor[] microBatches = [full(4, 2, 1f), full(4, 2, 2f), full(4, 2, 3f)];   // column sums 4, 8 and 12
        for (int k = 0; k < 3; k++)
        {
            buffers.BeforeMicroBatch();
            counter.forward(microBatches[k]);
            buffers.AddChange(changes, k, 3);
        }
        buffers.Commit(changes);
        Assert.That(counter.Seen.data<float>().ToArray(), Is.EqualTo(new[] { 24f, 24f }));

        buffers.BeforeMicroBatch();
        counter.forward(microBatches[0]);
        buffers.Revert();
        Assert.That(counter.Seen.data<float>().ToArray(), Is.EqualTo(new[] { 24f, 24f }));
    }

    private static Tensor[] MicroBatches()
    {
        manual_seed(3);
        // Means and spreads that differ from micro-batch to micro-batch, as real ones do.
        return Enumerable.Range(0, Kappa).Select(k => randn(6, Features) * (1 + k) + k).ToArray();
    }

    private static BatchNorm1d Norm(double? momentum)
    {
        BatchNorm1d norm = nn.BatchNorm1d(Features);
        norm.momentum = momentum;
        norm.train();
        return norm;
    }

    private static double Difference(Tensor a, Tensor b) =>
        (a - b).abs().max().item<float>() / Math.Max(b.abs().max().item<float>(), 1e-12);

    /// <summary>A module with a buffer of its own that is no batchnorm statistic: the column sums of everything it saw.</summary>
    private sealed class SampleCounter : nn.Module<Tensor, Tensor>
    {
        public SampleCounter() : base(nameof(SampleCounter))
        {
            Seen = zeros(2);
            register_buffer("seen", Seen);
        }

        public Tensor Seen { get; }

        public override Tensor forward(Tensor input)
        {
            Seen.add_(input.sum(dim: 0));
            return input;
        }
    }
}
