using System.CommandLine;
using System.Globalization;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// `hpcadam bench compare`: the C# all-reduce path against the C reference, from rows that
/// both wrote with --json. Interference from the rest of the machine comes and goes over
/// seconds and only ever slows a run down, so each side brings several interleaved rounds and
/// sizes are compared by each side's best round (as hyperfine reports a minimum).
/// </summary>
internal static class BenchComparison
{
    /// <summary>The promise: at every size from 1 MiB up, the C# path keeps 95% of plain MPI's busbw.</summary>
    private const long LargeMessage = 1L << 20;
    private const double Goal = 0.95;

    public static Command CreateCommand()
    {
        var reference = new Option<FileInfo[]>("--reference")
        {
            Description = "JSON rows from native/bench (allreduce_bench --json), one file per round.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var candidate = new Option<FileInfo[]>("--candidate")
        {
            Description = "JSON rows from hpcadam bench allreduce --json, one file per round.",
            Required = true,
            AllowMultipleArgumentsPerToken = true,
        };
        var command = new Command("compare", "Compare the C# all-reduce path's busbw with the C reference's, size by size.")
        {
            reference, candidate,
        };
        command.SetAction(parsed =>
        {
            try
            {
                Print(Best(parsed.GetValue(reference)!), Best(parsed.GetValue(candidate)!), parsed.GetValue(reference)!.Length);
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
            {
                return UsageError.Report($"hpcadam bench compare: cannot read benchmark rows: {e.Message}");
            }
        });
        return command;
    }

    private static SortedDictionary<long, double> Best(FileInfo[] files)
    {
        var best = new SortedDictionary<long, double>();
        foreach (FileInfo file in files)
            foreach (BandwidthRow row in BandwidthRow.FromJson(File.ReadAllText(file.FullName)))
                best[row.Bytes] = Math.Max(best.GetValueOrDefault(row.Bytes), row.BusbwGbs);
        return best;
    }

    private static void Print(SortedDictionary<long, double> reference, SortedDictionary<long, double> candidate, int rounds)
    {
        Console.WriteLine($"# best busbw of {rounds} round(s) of each");
        Console.WriteLine("#        size    C reference    C# path    ratio");
        Console.WriteLine("#         (B)         (GB/s)     (GB/s)");
        var largeRatios = new List<(long Bytes, double Ratio)>();
        foreach (var (bytes, referenceBusbw) in reference)
        {
            if (!candidate.TryGetValue(bytes, out double candidateBusbw) || referenceBusbw <= 0)
                continue;
            double ratio = candidateBusbw / referenceBusbw;
            if (bytes >= LargeMessage)
                largeRatios.Add((bytes, ratio));
            Console.WriteLine(string.Format(CultureInfo.InvariantCulture, "{0,13} {1,14:F3} {2,10:F3} {3,8:F3}", bytes, referenceBusbw, candidateBusbw, ratio));
        }
        if (largeRatios.Count == 0)
        {
            Console.WriteLine("# no common size of 1M or more: nothing to judge");
            return;
        }
        var worst = largeRatios.MinBy(r => r.Ratio);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "# sizes >= 1M: min ratio {0:F3} (at {1}), mean {2:F3}; goal >= {3:F2} at every size: {4}",
            worst.Ratio, ByteSize.Format(worst.Bytes), largeRatios.Average(r => r.Ratio), Goal, worst.Ratio >= Goal ? "met" : "NOT met"));
    }
}
