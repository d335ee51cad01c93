using System.Runtime.InteropServices;
using HpcAdam.Collectives;
using TorchSharp;

namespace HpcAdam.Trainer.SelfTest;

/// <summary>
/// Each check runs one collective on data whose correct result every rank can compute, and
/// counts the elements that differ. Counts are summed over ranks at the end, so every rank
/// reaches the same verdict. The exact sums, the broadcast and the all-gather also hand back
/// what this rank received, for `selftest --write` (a test's own oracle reads them).
/// </summary>
internal static class CollectiveChecks
{
    /// <summary>A check's verdict over all ranks, and what this rank received where the check keeps it (null where it does not).</summary>
    public sealed record Result(string Name, long Wrong, torch.Tensor? Received);

    public static IReadOnlyList<Result> RunAll(ICommunicator communicator, int elements)
    {
        var checks = new (string Name, Func<ICommunicator, int, (long Wrong, torch.Tensor? Received)> Run)[]
        {
            ("all-reduce float32 span", SumFloatSpan),
            ("all-reduce float64 span", SumDoubleSpan),
            ("all-reduce float32 tensor view", SumTensorView),
            ("all-reduce float64 tensor", SumDoubleTensor),
            ("non-blocking all-reduce, test until done", (c, n) => SumNonBlocking(c, n, poll: true)),
            ("non-blocking all-reduce, wait", (c, n) => SumNonBlocking(c, n, poll: false)),
            ("all-reduce bfloat16 as torch rounds", (c, n) => (BFloat16Checks.SumPairs(c, n), null)),
            ("float32 and bfloat16 summed together", (c, n) => (BFloat16Checks.SumWithFloat32(c, n), null)),
            ("broadcast from the last rank", BroadcastFromLastRank),
            ("all-gather in rank order", GatherInRankOrder),
            ("an MPI error returns as an exception", (c, n) => (ReportAnInvalidRoot(c, n), null)),
        };
        var outcomes = checks.Select(check => check.Run(communicator, elements)).ToArray();
        double[] wrong = [.. outcomes.Select(outcome => (double)outcome.Wrong)];
        communicator.AllReduceSum(wrong);
        return checks.Select((check, i) => new Result(check.Name, (long)wrong[i], outcomes[i].Received)).ToList();
    }

    private static (long, torch.Tensor?) SumFloatSpan(ICommunicator communicator, int elements)
    {
        var values = new float[elements];
        SumPattern.Fill<float>(values, communicator.Rank);
        communicator.AllReduceSum(values);
        return (SumPattern.CountWrong<float>(values, communicator.Size), torch.tensor(values));
    }

    private static (long, torch.Tensor?) SumDoubleSpan(ICommunicator communicator, int elements)
    {
        var values = new double[elements];
        SumPattern.Fill<double>(values, communicator.Rank);
        communicator.AllReduceSum(values);
        return (SumPattern.CountWrong<double>(values, communicator.Size), torch.tensor(values));
    }

    /// <summary>A view into a flat buffer, as the trainer's parameters are: the sum must stay inside it.</summary>
    private static (long, torch.Tensor?) SumTensorView(ICommunicator communicator, int elements)
    {
        var flat = torch.zeros(elements + 2, torch.float32);
        using var view = flat.narrow(0, 1, elements);
        SumPattern.Fill(MemoryMarshal.Cast<byte, float>(view.bytes), communicator.Rank);
        communicator.AllReduceSum(view);
        Span<float> all = MemoryMarshal.Cast<byte, float>(flat.bytes);
        long outside = (all[0] != 0 ? 1 : 0) + (all[^1] != 0 ? 1 : 0);
        return (outside + SumPattern.CountWrong<float>(all[1..^1], communicator.Size), flat);
    }

    private static (long, torch.Tensor?) SumDoubleTensor(ICommunicator communicator, int elements)
    {
        var tensor = torch.empty(elements, torch.float64);
        SumPattern.Fill(MemoryMarshal.Cast<byte, double>(tensor.bytes), communicator.Rank);
        communicator.AllReduceSum(tensor);
        return (SumPattern.CountWrong<double>(MemoryMarshal.Cast<byte, double>(tensor.bytes), communicator.Size), tensor);
    }

    private static (long, torch.Tensor?) SumNonBlocking(ICommunicator communicator, int elements, bool poll)
    {
        var tensor = torch.empty(elements, torch.float32);
        SumPattern.Fill(MemoryMarshal.Cast<byte, float>(tensor.bytes), communicator.Rank);
        using (IPendingAllReduce pending = communicator.StartAllReduceSum(tensor))
        {
            if (poll)
                while (!pending.Test())
                    Thread.Yield();
            else
                pending.Wait();
        }
        return (SumPattern.CountWrong<float>(MemoryMarshal.Cast<byte, float>(tensor.bytes), communicator.Size), tensor);
    }

    /// <summary>An odd number of bytes, so chunked broadcasts end on a partial chunk.</summary>
    private static (long, torch.Tensor?) BroadcastFromLastRank(ICommunicator communicator, int elements)
    {
        int root = communicator.Size - 1;
        var bytes = new byte[elements | 1];
        if (communicator.Rank == root)
            for (int i = 0; i < bytes.Length; i++)
                bytes[i] = Expected(i);
        communicator.Broadcast<byte>(bytes, root);
        long wrong = 0;
        for (int i = 0; i < bytes.Length; i++)
            if (bytes[i] != Expected(i))
                wrong++;
        return (wrong, torch.tensor(Array.ConvertAll(bytes, value => (long)value)));   // safetensors as HpcAdam writes it: int64

        static byte Expected(int i) => (byte)(i * 7 + 3);
    }

    private static (long, torch.Tensor?) GatherInRankOrder(ICommunicator communicator, int elements)
    {
        // Not a multiple of common chunk sizes, so each rank's block ends on a partial chunk.
        int block = elements % 1000 + 17;
        var send = new int[block];
        for (int i = 0; i < block; i++)
            send[i] = Expected(communicator.Rank, i);
        var receive = new int[block * communicator.Size];
        communicator.AllGather<int>(send, receive);
        long wrong = 0;
        for (int i = 0; i < receive.Length; i++)
            if (receive[i] != Expected(i / block, i % block))
                wrong++;
        return (wrong, torch.tensor(Array.ConvertAll(receive, value => (long)value)));

        static int Expected(int rank, int i) => rank * 1_000_003 + i;
    }

    /// <summary>
    /// MPI_ERRORS_RETURN: a bad call must come back as an exception naming the call and the
    /// rank, not abort the job. Every rank's arguments are equally wrong, so all detect it.
    /// </summary>
    private static long ReportAnInvalidRoot(ICommunicator communicator, int elements)
    {
        try
        {
            communicator.Broadcast<byte>(new byte[1], root: communicator.Size);
            return 1;
        }
        catch (MpiException e) when (e.Call == "MPI_Bcast" && e.Rank == communicator.Rank && e.Message.Contains($"rank {e.Rank}"))
        {
            return 0;
        }
        catch (ArgumentOutOfRangeException) when (communicator is SingleProcessCommunicator)
        {
            return 0;
        }
    }
}
