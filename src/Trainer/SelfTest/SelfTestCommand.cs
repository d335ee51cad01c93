using System.Buffers.Binary;
using System.CommandLine;
using System.Text;
using HpcAdam.Collectives;
using HpcAdam.Optim;

namespace HpcAdam.Trainer.SelfTest;

/// <summary>
/// `hpcadam selftest`: every collective HpcAdam uses, checked for exact results on this
/// machine's MPI (what a user runs first on a new cluster, and what the multi-rank tests run).
/// </summary>
internal static class SelfTestCommand
{
    public static Command Create()
    {
        var elements = new Option<int>("--elements") { Description = "Elements per buffer.", DefaultValueFactory = _ => 100_003 };
        var failRank = new Option<int?>("--fail-rank")
        {
            Description = "Fault injection: this rank throws before its first collective, to check that the job ends instead of hanging.",
        };
        var write = new Option<DirectoryInfo?>("--write")
        {
            Description = "Also write what every rank received to DIR/selftest.rank-R.safetensors, one tensor per check that keeps it, to check with a reader of your own.",
        };
        var command = new Command("selftest",
            "Check all-reduce (spans, tensors, non-blocking), broadcast and all-gather for exact results on every rank.\n" +
            $"Set {MpiCommunicator.MaxChunkVariable}=N to force the chunked path with N-element chunks.")
        {
            elements, failRank, write,
        };
        command.SetAction(parsed =>
        {
            int count = parsed.GetValue(elements);
            if (count < 1)
                return UsageError.Report($"hpcadam selftest: --elements {count} must be at least 1");
            return DataParallelJob.Run(communicator =>
            {
                if (parsed.GetValue(failRank) == communicator.Rank)
                    throw new InvalidOperationException($"injected failure on rank {communicator.Rank} (--fail-rank)");
                string[] placement = Placement(communicator);
                IReadOnlyList<CollectiveChecks.Result> results = CollectiveChecks.RunAll(communicator, count);
                try
                {
                    if (parsed.GetValue(write) is { } folder)
                        WriteReceived(folder, communicator.Rank, results);
                }
                finally
                {
                    foreach (CollectiveChecks.Result result in results)
                        result.Received?.Dispose();
                }
                return Report(communicator, placement, results);
            });
        });
        return command;
    }

    /// <summary>
    /// Where every rank runs, gathered to every rank: its host and its place among that host's ranks
    /// (the local rank that picks its GPU). One line per rank, so a multi-host launch can be checked.
    /// </summary>
    private static string[] Placement(ICommunicator communicator)
    {
        const int NameChars = 64, NameBytes = 4 * NameChars;   // a host name's 64 characters fit in UTF-8
        byte[] mine = new byte[NameBytes + 2 * sizeof(int)];
        string name = Environment.MachineName;
        Encoding.UTF8.GetBytes(name.AsSpan(0, Math.Min(name.Length, NameChars)), mine);
        BinaryPrimitives.WriteInt32LittleEndian(mine.AsSpan(NameBytes), communicator.LocalRank);
        BinaryPrimitives.WriteInt32LittleEndian(mine.AsSpan(NameBytes + sizeof(int)), communicator.LocalSize);
        byte[] all = new byte[mine.Length * communicator.Size];
        communicator.AllGather<byte>(mine, all);
        return [.. Enumerable.Range(0, communicator.Size).Select(rank =>
        {
            ReadOnlySpan<byte> entry = all.AsSpan(rank * mine.Length, mine.Length);
            string host = Encoding.UTF8.GetString(entry[..NameBytes]).TrimEnd('\0');
            return $"rank {rank}: host {host}, local rank {BinaryPrimitives.ReadInt32LittleEndian(entry[NameBytes..])} " +
                   $"of {BinaryPrimitives.ReadInt32LittleEndian(entry[(NameBytes + sizeof(int))..])}";
        })];
    }

    /// <summary>What this rank received in each check that keeps it, named by the check, as safetensors.</summary>
    private static void WriteReceived(DirectoryInfo folder, int rank, IReadOnlyList<CollectiveChecks.Result> results)
    {
        folder.Create();
        using FileStream file = File.Create(Path.Combine(folder.FullName, $"selftest.rank-{rank}.safetensors"));
        SafeTensorsFormat.Write(file, [.. results.Where(result => result.Received is not null).Select(result => (result.Name, result.Received!))],
            new Dictionary<string, string> { ["format"] = "hpcadam-selftest/1" });
    }

    private static int Report(ICommunicator communicator, string[] placement, IReadOnlyList<CollectiveChecks.Result> results)
    {
        int failed = results.Count(r => r.Wrong > 0);
        if (communicator.Rank != 0)
            return failed == 0 ? ExitCodes.Success : ExitCodes.Failed;
        string chunk = communicator is MpiCommunicator ? $"chunk limit {MpiCommunicator.MaxChunkElements} elements" : "no MPI";
        Console.WriteLine($"hpcadam selftest: {communicator.Size} rank(s), {communicator.Description}, {chunk}");
        foreach (string line in placement)
            Console.WriteLine($"  {line}");
        foreach (var result in results)
            Console.WriteLine($"  {result.Name,-40} {(result.Wrong == 0 ? "ok" : $"{result.Wrong} wrong")}");
        Console.WriteLine(failed == 0
            ? $"selftest passed: {results.Count} checks on {communicator.Size} rank(s)"
            : $"selftest FAILED: {failed} of {results.Count} checks");
        return failed == 0 ? ExitCodes.Success : ExitCodes.Failed;
    }
}
