using System.CommandLine;
using System.Globalization;

namespace HpcAdam.Trainer.Bench;

/// <summary>`hpcadam bench ...`: benchmarks that print tables (timing lives here, never in tests).</summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks that print tables.") { CreateAllReduce() };

    private static Command CreateAllReduce()
    {
        var minBytes = new Option<string>("--min-bytes") { Description = "Smallest message (4, 512K, 64M, ...).", DefaultValueFactory = _ => "4" };
        var maxBytes = new Option<string>("--max-bytes") { Description = "Largest message; sizes double from the smallest.", DefaultValueFactory = _ => "64M" };
        var warmup = new Option<int>("--warmup") { Description = "Untimed all-reduces per size.", DefaultValueFactory = _ => 5 };
        var iterations = new Option<int>("--iters") { Description = "Timed all-reduces per size.", DefaultValueFactory = _ => 20 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the rows as a JSON array (bytes, count, time_us, algbw_gbs, busbw_gbs, wrong)." };
        var reference = new Option<FileInfo?>("--reference") { Description = "JSON rows of the C reference (native/bench) to compare busbw against." };
        var command = new Command("allreduce",
            "In-place float32 all-reduce bandwidth over all ranks, in nccl-tests' columns, each size checked for exact sums.\n" +
            "Run under the launcher, e.g. mpirun -np 2 hpcadam bench allreduce.")
        {
            minBytes, maxBytes, warmup, iterations, json, reference,
        };
        command.SetAction(parsed =>
        {
            string? problem = Validate(parsed.GetValue(minBytes)!, parsed.GetValue(maxBytes)!, parsed.GetValue(warmup),
                parsed.GetValue(iterations), out AllReduceBenchOptions? options);
            List<BandwidthRow>? referenceRows = problem is null ? LoadReference(parsed.GetValue(reference), ref problem) : null;
            if (problem is not null)
                return UsageError.Report($"hpcadam bench allreduce: {problem}");
            return Job.Run(communicator => Run(communicator, options!, parsed.GetValue(json), referenceRows));
        });
        return command;
    }

    private static int Run(Collectives.ICommunicator communicator, AllReduceBenchOptions options, FileInfo? json, List<BandwidthRow>? reference)
    {
        bool report = communicator.Rank == 0;
        if (report)
        {
            Console.WriteLine($"# hpcadam bench allreduce: {communicator.Size} rank(s), {communicator.Description}");
            Console.WriteLine($"# warm-up {options.Warmup}, timed iterations {options.Iterations}, in place, float32, sum; time = slowest rank's mean");
            Console.WriteLine(BandwidthRow.Header(reference is not null));
        }
        List<BandwidthRow> rows = AllReduceBenchmark.Run(communicator, options, row =>
        {
            if (report)
                Console.WriteLine(row.Format(reference?.Find(r => r.Bytes == row.Bytes)));
        });
        long wrong = rows.Sum(r => r.Wrong);
        if (report)
        {
            if (reference is not null)
                PrintRatioSummary(rows, reference);
            Console.WriteLine(wrong == 0 ? "# every sum exact" : $"# {wrong} wrong elements: the all-reduce is broken on this machine");
            if (json is not null)
                AtomicFile.WriteAllText(json.FullName, BandwidthRow.ToJson(rows));
        }
        return wrong == 0 ? ExitCodes.Success : ExitCodes.Failed;
    }

    private static void PrintRatioSummary(List<BandwidthRow> rows, List<BandwidthRow> reference)
    {
        const long large = 1L << 20;
        var ratios = rows.Where(r => r.Bytes >= large)
            .Select(r => (r.Bytes, Ratio: reference.Find(x => x.Bytes == r.Bytes) is { BusbwGbs: > 0 } x ? r.BusbwGbs / x.BusbwGbs : double.NaN))
            .Where(r => !double.IsNaN(r.Ratio))
            .ToList();
        if (ratios.Count == 0)
            return;
        var worst = ratios.MinBy(r => r.Ratio);
        Console.WriteLine(string.Format(CultureInfo.InvariantCulture,
            "# busbw of the C# path / C reference at sizes >= 1M: min {0:F3} (at {1}), mean {2:F3}",
            worst.Ratio, ByteSize.Format(worst.Bytes), ratios.Average(r => r.Ratio)));
    }

    private static string? Validate(string minText, string maxText, int warmup, int iterations, out AllReduceBenchOptions? options)
    {
        options = null;
        if (!ByteSize.TryParse(minText, out long min) || min < 4 || min % 4 != 0)
            return $"--min-bytes {minText} is not a size of at least 4 bytes in whole float32 elements (e.g. 4, 1K, 1M)";
        if (!ByteSize.TryParse(maxText, out long max) || max < min)
            return $"--max-bytes {maxText} is not a size at least --min-bytes ({ByteSize.Format(min)})";
        if (max / 4 > int.MaxValue)
            return $"--max-bytes {maxText} is larger than the benchmark's 8G limit";
        if (warmup < 0)
            return $"--warmup {warmup} must be 0 or more";
        if (iterations < 1)
            return $"--iters {iterations} must be at least 1";
        options = new AllReduceBenchOptions(min, max, warmup, iterations);
        return null;
    }

    private static List<BandwidthRow>? LoadReference(FileInfo? file, ref string? problem)
    {
        if (file is null)
            return null;
        try
        {
            return BandwidthRow.FromJson(File.ReadAllText(file.FullName));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            problem = $"--reference {file}: cannot read the C reference's rows: {e.Message}";
            return null;
        }
    }
}
