using System.CommandLine;

namespace HpcAdam.Trainer.Bench;

/// <summary>`hpcadam bench ...`: benchmarks that print tables (timing lives here, never in tests).</summary>
internal static class BenchCommand
{
    public static Command Create() => new("bench", "Benchmarks that print tables.") { CreateAllReduce(), BenchComparison.CreateCommand() };

    private static Command CreateAllReduce()
    {
        var minBytes = new Option<string>("--min-bytes") { Description = "Smallest message (4, 512K, 64M, ...).", DefaultValueFactory = _ => "4" };
        var maxBytes = new Option<string>("--max-bytes") { Description = "Largest message; sizes double from the smallest.", DefaultValueFactory = _ => "64M" };
        var warmup = new Option<int>("--warmup") { Description = "Untimed all-reduces per size.", DefaultValueFactory = _ => 5 };
        var iterations = new Option<int>("--iters") { Description = "Timed all-reduces per size.", DefaultValueFactory = _ => 20 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the rows as a JSON array (bytes, count, time_us, algbw_gbs, busbw_gbs, wrong)." };
        var command = new Command("allreduce",
            "In-place float32 all-reduce bandwidth over all ranks, in nccl-tests' columns, each size checked for exact sums.\n" +
            "Run under the launcher, e.g. mpirun -np 2 hpcadam bench allreduce.")
        {
            minBytes, maxBytes, warmup, iterations, json,
        };
        command.SetAction(parsed =>
        {
            string? problem = Validate(parsed.GetValue(minBytes)!, parsed.GetValue(maxBytes)!, parsed.GetValue(warmup),
                parsed.GetValue(iterations), out AllReduceBenchOptions? options);
            if (problem is not null)
                return UsageError.Report($"hpcadam bench allreduce: {problem}");
            return Job.Run(communicator => Run(communicator, options!, parsed.GetValue(json)));
        });
        return command;
    }

    private static int Run(Collectives.ICommunicator communicator, AllReduceBenchOptions options, FileInfo? json)
    {
        bool report = communicator.Rank == 0;
        if (report)
        {
            Console.WriteLine($"# hpcadam bench allreduce: {communicator.Size} rank(s), {communicator.Description}");
            Console.WriteLine($"# warm-up {options.Warmup}, timed iterations {options.Iterations}, in place, float32, sum; time = slowest rank's mean");
            Console.WriteLine(BandwidthRow.Header);
        }
        List<BandwidthRow> rows = AllReduceBenchmark.Run(communicator, options, row =>
        {
            if (report)
                Console.WriteLine(row.Format());
        });
        long wrong = rows.Sum(r => r.Wrong);
        if (report)
        {
            Console.WriteLine(wrong == 0 ? "# every sum exact" : $"# {wrong} wrong elements: the all-reduce is broken on this machine");
            if (json is not null)
                AtomicFile.WriteAllText(json.FullName, BandwidthRow.ToJson(rows));
        }
        return wrong == 0 ? ExitCodes.Success : ExitCodes.Failed;
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
}
