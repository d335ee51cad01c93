using System.CommandLine;
using TorchSharp;

namespace HpcAdam.Trainer.Bench;

/// <summary>`hpcadam bench ...`: benchmarks that print tables (timing lives here, never in tests).</summary>
internal static class BenchCommand
{
    public static Command Create() =>
        new("bench", "Benchmarks that print tables.") { CreateAllReduce(), BenchComparison.CreateCommand(), CreateOptimizer(), StepBenchCommand.Create(),
            ScalingBenchCommand.Create() };

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
            return DataParallelJob.Run(communicator => Run(communicator, options!, parsed.GetValue(json)));
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
        string? problem = ValidateRepetitions(warmup, iterations);
        options = problem is null ? new AllReduceBenchOptions(min, max, warmup, iterations) : null;
        return problem;
    }

    private static Command CreateOptimizer()
    {
        var parameters = new Option<long>("--params") { Description = "Parameters per optimizer (default: ResNet-18's).", DefaultValueFactory = _ => ResNet18Shapes.ParameterCount };
        var warmup = new Option<int>("--warmup") { Description = "Untimed steps of each.", DefaultValueFactory = _ => 3 };
        var iterations = new Option<int>("--iters") { Description = "Timed steps of each; the median is reported.", DefaultValueFactory = _ => 20 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the result as one JSON object (params, bsi_adam_ms, torchsharp_adam_ms, triad_ms)." };
        var command = new Command("optimizer",
            "Time of one optimizer step: BSI-Adam's fused flat pass against TorchSharp's Adam over ResNet-18-shaped tensors\n" +
            "and against a STREAM triad moving the same bytes. One process; run it alone, not under a launcher.")
        {
            parameters, warmup, iterations, json,
        };
        command.SetAction(parsed =>
        {
            var options = new OptimizerBenchOptions(parsed.GetValue(parameters), parsed.GetValue(warmup), parsed.GetValue(iterations));
            FileInfo? jsonFile = parsed.GetValue(json);
            string? problem = ValidateOptimizer(options, jsonFile);
            if (problem is not null)
                return UsageError.Report($"hpcadam bench optimizer: {problem}");
            return DataParallelJob.Run(communicator => communicator.Size > 1
                ? UsageError.Report("hpcadam bench optimizer: times one process; run it without mpirun or srun")
                : RunOptimizer(options, jsonFile));
        });
        return command;
    }

    private static int RunOptimizer(OptimizerBenchOptions options, FileInfo? json)
    {
        // The host pass uses as many threads as TorchSharp's own operations, so all three get the same cores.
        int threads = Math.Max(1, torch.get_num_threads());
        Console.WriteLine($"# hpcadam bench optimizer: {options.Params} parameters, {threads} thread(s); " +
                          $"time = median of {options.Iterations} timed step(s) after {options.Warmup} warm-up(s)");
        OptimizerTimings timings = OptimizerBenchmark.Run(options, threads, Console.WriteLine);
        Console.WriteLine(OptimizerTimings.Header);
        Console.WriteLine(timings.Format());
        foreach (string goal in timings.Goals())
            Console.WriteLine(goal);
        if (json is not null)
            AtomicFile.WriteAllText(json.FullName, timings.ToJson());
        return ExitCodes.Success;
    }

    /// <summary>Checked before anything is timed, so a bad --json costs no minutes of benchmark.</summary>
    private static string? ValidateOptimizer(OptimizerBenchOptions options, FileInfo? json)
    {
        if (options.Params is < 1 or > OptimizerBenchmark.MaxParams)
            return $"--params {options.Params} must be from 1 to {OptimizerBenchmark.MaxParams} (one flat float32 buffer under 2 GiB)";
        if (json is { Directory.Exists: false })
            return $"--json {json.FullName}: the folder {json.DirectoryName} does not exist";
        return ValidateRepetitions(options.Warmup, options.Iterations);
    }

    private static string? ValidateRepetitions(int warmup, int iterations)
    {
        if (warmup < 0)
            return $"--warmup {warmup} must be 0 or more";
        if (iterations < 1)
            return $"--iters {iterations} must be at least 1";
        return null;
    }
}
