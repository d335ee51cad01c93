using System.Runtime.InteropServices;
using HpcAdam.Collectives;

namespace HpcAdam.Trainer.Bench;

/// <summary>Message sizes, iterations and outputs of one all-reduce benchmark run.</summary>
internal sealed record AllReduceBenchOptions(long MinBytes, long MaxBytes, int Warmup, int Iterations);

/// <summary>
/// Times the C# all-reduce path (span → shim → MPI_Allreduce, in place, float32) the way the C
/// reference in native/bench times plain MPI_Allreduce: same sizes, same buffer alignment,
/// same warm-up, the slowest rank's mean time, then one exactness check per size.
/// </summary>
internal static unsafe class AllReduceBenchmark
{
    private const int ElementSize = sizeof(float);
    private const int Alignment = 4096;

    public static List<BandwidthRow> Run(ICommunicator communicator, AllReduceBenchOptions options, Action<BandwidthRow> onRow)
    {
        var rows = new List<BandwidthRow>();
        // Native, page-aligned memory as in the C reference, so both time the same copy paths.
        void* memory = NativeMemory.AlignedAlloc((nuint)options.MaxBytes, Alignment);
        try
        {
            for (long bytes = options.MinBytes; bytes <= options.MaxBytes; bytes *= 2)
            {
                var buffer = new Span<float>(memory, checked((int)(bytes / ElementSize)));
                BandwidthRow row = Measure(communicator, buffer, options);
                rows.Add(row);
                onRow(row);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(memory);
        }
        return rows;
    }

    private static BandwidthRow Measure(ICommunicator communicator, Span<float> buffer, AllReduceBenchOptions options)
    {
        // Zeros keep the in-place sums finite however many iterations run.
        buffer.Clear();
        for (int i = 0; i < options.Warmup; i++)
            communicator.AllReduceSum(buffer);
        communicator.Barrier();
        double start = communicator.WallTime();
        for (int i = 0; i < options.Iterations; i++)
            communicator.AllReduceSum(buffer);
        double seconds = (communicator.WallTime() - start) / options.Iterations;

        SumPattern.Fill(buffer, communicator.Rank);
        communicator.AllReduceSum(buffer);
        Span<double> wrong = [SumPattern.CountWrong<float>(buffer, communicator.Size)];
        communicator.AllReduceSum(wrong);
        return BandwidthRow.FromTime((long)buffer.Length * ElementSize, ElementSize, SlowestRank(communicator, seconds),
            communicator.Size, (long)wrong[0]);
    }

    private static double SlowestRank(ICommunicator communicator, double seconds)
    {
        Span<double> all = stackalloc double[communicator.Size];
        communicator.AllGather<double>([seconds], all);
        double slowest = 0;
        foreach (double value in all)
            slowest = Math.Max(slowest, value);
        return slowest;
    }
}
