using HpcAdam.Collectives;
using TorchSharp;

namespace HpcAdam.Tests;

public sealed class SingleProcessCommunicatorTests
{
    private static readonly SingleProcessCommunicator s_communicator = new();

    [Test]
    public void AWorldOfOneIsRankZeroOfOne()
    {
        Assert.That((s_communicator.Rank, s_communicator.Size, s_communicator.LocalRank, s_communicator.LocalSize), Is.EqualTo((0, 1, 0, 1)));
    }

    [Test]
    public void AllReduceOfOneRankLeavesValuesAsTheyAre()
    {
        float[] values = [1.5f, -2f, 3f];
        s_communicator.AllReduceSum(values);
        using var tensor = torch.tensor(new[] { 1.0, 2.0 });
        s_communicator.AllReduceSum(tensor);
        Assert.That(values, Is.EqualTo(new[] { 1.5f, -2f, 3f }));
        Assert.That(tensor.data<double>().ToArray(), Is.EqualTo(new[] { 1.0, 2.0 }));
    }

    [Test]
    public void EveryAllReduceCountsItsPayloadThoughOneProcessSendsNothing()
    {
        var communicator = new SingleProcessCommunicator();
        communicator.AllReduceSum(new float[3]);
        communicator.AllReduceSum(new double[2]);
        Assert.That(communicator.AllReducedBytes, Is.EqualTo(3 * 4 + 2 * 8));
        using var floats = torch.zeros(5);
        using var squares = torch.zeros(5, torch.bfloat16);
        communicator.AllReduceSumTogether([floats, squares]);
        Assert.That(communicator.AllReducedBytes, Is.EqualTo(28 + 5 * 4 + 5 * 2));
        communicator.StartAllReduceSum(squares).Wait();
        Assert.That(communicator.AllReducedBytes, Is.EqualTo(58 + 5 * 2));
    }

    [Test]
    public void AllGatherOfOneRankCopiesAndChecksTheReceiveSize()
    {
        int[] receive = new int[3];
        s_communicator.AllGather<int>([7, 8, 9], receive);
        Assert.That(receive, Is.EqualTo(new[] { 7, 8, 9 }));
        Assert.Throws<ArgumentException>(() => s_communicator.AllGather<int>([1, 2], new int[3]));
    }

    [Test]
    public void BroadcastFromARankThatDoesNotExistIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => s_communicator.Broadcast<int>(new int[2], root: 1));
    }

    [Test]
    public void TensorsThatCannotBeSummedInPlaceAreRejectedWithTheReason()
    {
        using var matrix = torch.zeros(3, 4);
        using var transposed = matrix.t();
        using var integers = torch.zeros(4, torch.int32);
        Assert.That(() => s_communicator.AllReduceSum(transposed), Throws.ArgumentException.With.Message.Contains("not contiguous"));
        Assert.That(() => s_communicator.AllReduceSum(integers), Throws.ArgumentException.With.Message.Contains("only float32, float64 and bfloat16"));
        Assert.That(() => s_communicator.StartAllReduceSum(integers), Throws.ArgumentException);
    }
}
