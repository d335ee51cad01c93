using System.CommandLine;
using System.Globalization;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// `hpcadam bench compare`: the C# all-reduce path against the C reference, from rows that
/// both wrote with --json. On a busy machine one run of each is noisy, so each side may bring
/// several rounds; sizes are compared by their median busbw.
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
                Print(Medians(parsed.GetValue(reference)!), Medians(parsed.GetValue(candidate)!), parsed.GetValue(reference)!.Length);
                return ExitCodes.Success;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
            {
                return UsageError.Report($"hpcadam bench compare: cannot read benchmark rows: {e.Message}");
            }
        });
        return command;
    }

    private static SortedDictionary<long, double> Medians(FileInfo[] files)
    {
        var busbw = new SortedDictionary<long, List<double>>();
        foreach (FileInfo file in files)
            foreach (BandwidthRow row in BandwidthRow.FromJson(File.ReadAllText(file.FullName)))
            {
                if (!busbw.TryGetValue(row.Bytes, out var values))
                    busbw[row.Bytes] = values = [];
                values.Add(row.BusbwGbs);
            }
        return new SortedDictionary<long, double>(busbw.ToDictionary(pair => pair.Key, pair => Median(pair.Value)));
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        int middle = values.Count / 2;
        return values.Count % 2 == 1 ? values[middle] : (values[middle - 1] + values[middle]) / 2;
    }

    private static void Print(SortedDictionary<long, double> reference, SortedDictionary<long, double> candidate, int rounds)
    {
        Console.WriteLine($"# median busbw over {rounds} round(s) of each");
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
