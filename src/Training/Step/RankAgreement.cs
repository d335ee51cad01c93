using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using HpcAdam.Collectives;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// Checks at start that every rank runs the same job: the same resolved configuration and
/// parameter count (before the weights are broadcast, which needs equal sizes), then the same
/// weights (after). A rank started with other arguments or environment is named, rather than
/// discovered as a hang or a silently diverging model.
/// </summary>
internal static class RankAgreement
{
    /// <summary>The first disagreement as one line for the user; null when every rank agrees.</summary>
    public static string? Configuration(ICommunicator communicator, string configurationSha256, long parameterCount)
    {
        long[] mine = [Fingerprint(Encoding.UTF8.GetBytes(configurationSha256)), parameterCount];
        long[] all = Gather(communicator, mine);
        for (int rank = 1; rank < communicator.Size; rank++)
        {
            if (all[2 * rank] != all[0])
                return $"rank {rank} was started with another configuration than rank 0: give every rank the same --config, HPCADAM__ variables and --Section:Key arguments";
            if (all[2 * rank + 1] != all[1])
                return $"rank {rank} built a model of {all[2 * rank + 1]} parameters, rank 0 one of {all[1]}: every rank must run the same build and configuration";
        }
        return null;
    }

    /// <summary>
    /// The first rank whose model (weights and buffers) differs from rank 0's, as one line naming
    /// <paramref name="when"/>; null when all agree.
    /// </summary>
    public static string? Model(ICommunicator communicator, Tensor weights, IEnumerable<Tensor> buffers, string when)
    {
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        HostView.AppendTo(hash, weights);
        foreach (Tensor buffer in buffers)
            HostView.AppendTo(hash, buffer);
        long[] all = Gather(communicator, [MemoryMarshal.Read<long>(hash.GetHashAndReset())]);
        for (int rank = 1; rank < communicator.Size; rank++)
            if (all[rank] != all[0])
                return $"rank {rank}'s model differs from rank 0's {when}";
        return null;
    }

    /// <summary>The first 8 bytes of the SHA-256 of <paramref name="bytes"/>.</summary>
    public static long Fingerprint(ReadOnlySpan<byte> bytes) => MemoryMarshal.Read<long>(SHA256.HashData(bytes));

    private static long[] Gather(ICommunicator communicator, long[] mine)
    {
        long[] all = new long[mine.Length * communicator.Size];
        communicator.AllGather<long>(mine, all);
        return all;
    }
}
