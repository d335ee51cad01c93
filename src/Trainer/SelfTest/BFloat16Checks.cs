using System.Runtime.InteropServices;
using HpcAdam.Collectives;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Trainer.SelfTest;

/// <summary>
/// The bfloat16 sum (Collectives:SquaresPrecision), checked against libtorch: each partial sum must be
/// libtorch's (a.float() + b.float()).to(bfloat16), bit for bit, and a NaN a NaN (whose bits libtorch
/// itself does not fix). Sums of more than two addends depend on the order MPI adds them in, so a
/// result passes when it is the sum in one of the orders an all-reduce may take.
/// </summary>
internal static class BFloat16Checks
{
    /// <summary>Ranks that add values of their own; the others add −0, which leaves every bfloat16 as it is.</summary>
    private const int Contributors = 4;

    /// <summary>
    /// (a, b) as bfloat16 bits, for ranks 0 and 1: ties to even, a tie that carries into the next binade
    /// or to infinity, subnormals, signed zeros, infinities, NaNs, and addends too far apart to meet.
    /// </summary>
    private static readonly (ushort A, ushort B)[] s_edgeCases =
    [
        (0x3F80, 0x3B80), (0x3F81, 0x3B80), (0x3F80, 0x3B81), (0xBF80, 0xBB80), (0x3FFF, 0x3B80),
        (0x0001, 0x0001), (0x0040, 0x0040), (0x0100, 0x0001), (0x8001, 0x0001), (0x3F80, 0xBF80), (0x8000, 0x8000),
        (0x7F7F, 0x7B00), (0x7F7F, 0x7F7F), (0x7F80, 0x3F80), (0xFF80, 0xBF80), (0x7F80, 0xFF80),
        (0x7FC0, 0x3F80), (0xFFC1, 0x0000), (0x7F81, 0x3F80), (0x3F80, 0x3000), (0x4B80, 0x3F80),
    ];

    /// <summary>Ranks 0 and 1 add the edge cases, then values of every magnitude; a blocking all-reduce, then a non-blocking one.</summary>
    public static long SumPairs(ICommunicator communicator, int elements)
    {
        using var scope = NewDisposeScope();
        Tensor[] addends = [Pair(0, elements), Pair(1, elements)];
        Tensor mine = communicator.Rank < 2 ? addends[communicator.Rank] : full(elements, -0.0, bfloat16);
        List<Tensor> expected = Orders(addends[..Math.Min(2, communicator.Size)]);
        Tensor blocking = mine.clone(), nonBlocking = mine.clone();
        communicator.AllReduceSum(blocking);
        communicator.StartAllReduceSum(nonBlocking).Wait();
        return CountOutside(blocking, expected) + CountOutside(nonBlocking, expected);
    }

    /// <summary>The step's way: a float32 tensor and a bfloat16 one, summed together; every one of the first ranks adds values of its own.</summary>
    public static long SumWithFloat32(ICommunicator communicator, int elements)
    {
        using var scope = NewDisposeScope();
        Tensor floats = empty(elements, float32);
        SumPattern.Fill(MemoryMarshal.Cast<byte, float>(floats.bytes), communicator.Rank);
        Tensor[] addends = [.. Enumerable.Range(0, Math.Min(Contributors, communicator.Size)).Select(rank => Random(rank, elements))];
        Tensor sum = communicator.Rank < Contributors ? addends[communicator.Rank].clone() : full(elements, -0.0, bfloat16);
        communicator.AllReduceSumTogether([floats, sum]);
        return SumPattern.CountWrong<float>(MemoryMarshal.Cast<byte, float>(floats.bytes), communicator.Size) + CountOutside(sum, Orders(addends));
    }

    private static Tensor Pair(int rank, int elements)
    {
        Tensor values = Random(rank, elements);
        Span<ushort> bits = MemoryMarshal.Cast<byte, ushort>(values.bytes);
        for (int i = 0; i < Math.Min(elements, s_edgeCases.Length); i++)
            bits[i] = rank == 0 ? s_edgeCases[i].A : s_edgeCases[i].B;
        return values;
    }

    /// <summary>Normal values scaled by 2^−20 … 2^20, the same on every rank that draws them for <paramref name="rank"/>.</summary>
    private static Tensor Random(int rank, int elements)
    {
        using var generator = new Generator((ulong)(1000 + rank));
        Tensor scale = exp2(randint(-20, 21, [elements], generator: generator).to(float32));
        return (randn(elements, generator: generator) * scale).to(bfloat16);
    }

    /// <summary>
    /// Every value the bfloat16 sum of <paramref name="addends"/> can take: an all-reduce adds them in
    /// pairs along some binary tree, each pair in float32 rounded to bfloat16.
    /// </summary>
    private static List<Tensor> Orders(Tensor[] addends)
    {
        if (addends.Length == 1)
            return [addends[0]];
        var sums = new List<Tensor>();
        int others = addends.Length - 1;
        // Split the addends in two, the first with addends[0] and the members of mask, the second with the rest (never empty).
        for (int mask = 0; mask < (1 << others) - 1; mask++)
        {
            bool InFirst(int j) => (mask >> j & 1) == 1;
            Tensor[] first = [addends[0], .. Enumerable.Range(0, others).Where(InFirst).Select(j => addends[j + 1])];
            Tensor[] second = [.. Enumerable.Range(0, others).Where(j => !InFirst(j)).Select(j => addends[j + 1])];
            foreach (Tensor left in Orders(first))
                foreach (Tensor right in Orders(second))
                    sums.Add((left.to(float32) + right.to(float32)).to(bfloat16));
        }
        return sums;
    }

    /// <summary>Elements of <paramref name="sum"/> equal to none of the <paramref name="candidates"/> (a NaN to any NaN).</summary>
    private static long CountOutside(Tensor sum, List<Tensor> candidates)
    {
        ReadOnlySpan<ushort> result = MemoryMarshal.Cast<byte, ushort>(sum.bytes);
        ushort[][] allowed = [.. candidates.Select(candidate => MemoryMarshal.Cast<byte, ushort>(candidate.bytes).ToArray())];
        long wrong = 0;
        for (int i = 0; i < result.Length; i++)
        {
            ushort bits = result[i];
            if (!allowed.Any(candidate => candidate[i] == bits || (IsNaN(candidate[i]) && IsNaN(bits))))
                wrong++;
        }
        return wrong;
    }

    private static bool IsNaN(ushort bits) => (bits & 0x7FFF) > 0x7F80;
}
