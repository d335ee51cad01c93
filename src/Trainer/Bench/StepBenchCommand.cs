using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HpcAdam.Collectives;
using TorchSharp;

namespace HpcAdam.Trainer.Bench;

/// <summary>What `hpcadam bench step` times: every model × config × precision, each peer for Warmup + Steps steps.</summary>
internal sealed record StepBenchOptions(string[] Models, StepConfig[] Configs, string[] Precisions, int Steps, int Warmup, string Device)
{
    public const string DefaultPrecision = "float32";
    public static readonly string[] ModelNames = ["resnet18", "vit"];
    public static readonly string[] PrecisionNames = [DefaultPrecision, "bfloat16"];

    /// <summary>Each peer's run length.</summary>
    public int TotalSteps => Warmup + Steps;

    /// <summary>The steps both peers take their medians over: the window of <see cref="TrainingResult.Steady"/>, which the PyTorch peer is told.</summary>
    public int SteadySteps => Math.Min(TotalSteps / 2, StepTimings.SteadyWindow);

    public IEnumerable<StepBenchCase> Cases() =>
        from model in Models from config in Configs from precision in Precisions
        select new StepBenchCase(model, config, precision);
}

/// <summary>
/// `hpcadam bench step`: the same models and batches trained by HpcAdam (in this process, through the
/// training library) and by PyTorch (bench_step_peer.py, torch.optim.Adam with κ gradient-accumulation
/// micro-batches per step) on the same machine in one run, side by side in one table: the steady
/// state's median ms by phase and per step, samples/s, and PyTorch's time over HpcAdam's.
/// </summary>
internal static class StepBenchCommand
{
    public static Command Create()
    {
        var models = new Option<string>("--models") { Description = "Models, comma-separated: resnet18 (batch norm), vit.", DefaultValueFactory = _ => "resnet18,vit" };
        var configs = new Option<string>("--configs") { Description = "MxK, comma-separated: micro-batch size M, K micro-batches per step.", DefaultValueFactory = _ => "256x1,128x2" };
        var precisions = new Option<string>("--precisions") { Description = "Precisions, comma-separated: float32, bfloat16.", DefaultValueFactory = _ => "float32,bfloat16" };
        var steps = new Option<int>("--steps") { Description = "Timed steps per run, after the warm-up.", DefaultValueFactory = _ => 100 };
        var warmup = new Option<int>("--warmup") { Description = "Warm-up steps per run.", DefaultValueFactory = _ => 20 };
        var device = new Option<string>("--device") { Description = "auto (a GPU when there is one), cpu or cuda.", DefaultValueFactory = _ => "auto" };
        var python = new Option<string?>("--python") { Description = "The Python with torch (default: python3, then /usr/bin/python3, the first that imports torch)." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the rows and the optimizer-alone lines as one JSON object." };
        var command = new Command("step",
            "Steady-state step time of HpcAdam against PyTorch (torch.optim.Adam) on the same model and batch, by phase.\n" +
            "One process; run it alone, not under a launcher.")
        {
            models, configs, precisions, steps, warmup, device, python, json,
        };
        command.SetAction(parsed =>
        {
            FileInfo? jsonFile = parsed.GetValue(json);
            string? problem = Validate(parsed.GetValue(models)!, parsed.GetValue(configs)!, parsed.GetValue(precisions)!, parsed.GetValue(steps),
                parsed.GetValue(warmup), parsed.GetValue(device)!, jsonFile, out StepBenchOptions? options);
            if (problem is not null)
                return UsageError.Report($"hpcadam bench step: {problem}");
            return DataParallelJob.Run(communicator =>
            {
                if (communicator.Size > 1)
                    return UsageError.Report("hpcadam bench step: times one process; run it without mpirun or srun");
                if (PyTorchStepPeer.Find(parsed.GetValue(python), out string? missing) is not { } peer)
                    return UsageError.Report($"hpcadam bench step: {missing}");
                return Run(options!, peer, communicator, jsonFile);
            });
        });
        return command;
    }

    private static int Run(StepBenchOptions options, PyTorchStepPeer peer, ICommunicator communicator, FileInfo? json)
    {
        List<StepBenchCase> cases = options.Cases().ToList();
        string work = Directory.CreateTempSubdirectory("hpcadam-bench-step-").FullName;
        try
        {
            Console.WriteLine($"# hpcadam bench step: {cases.Count} case(s) on {options.Device}, synthetic 1x28x28 images of 10 classes; " +
                              $"each peer trains {options.TotalSteps} steps ({options.Warmup} warm-up + {options.Steps}), steady state = median of the last {options.SteadySteps}");
            var ours = new List<PeerOutcome>();
            foreach (StepBenchCase benchCase in cases)
            {
                string runDirectory = Path.Combine(work, $"{benchCase.Model}-{benchCase.Config}-{benchCase.Precision}");
                PeerOutcome outcome = HpcAdamStepPeer.Run(benchCase, options.TotalSteps, options.Device, runDirectory, communicator);
                // The run folder holds its final checkpoint: gone before the next case, so a long bench needs one model's worth of disk.
                if (Directory.Exists(runDirectory))
                    Directory.Delete(runDirectory, recursive: true);
                Console.WriteLine(StepBenchRow.Progress("hpcadam", benchCase, outcome));
                ours.Add(outcome);
            }
            // PyTorch gets the threads HpcAdam's runs used (TrainingRun sets them), so both compute on the same cores.
            int threads = torch.get_num_threads();
            List<PeerOutcome> theirs = peer.Run(cases, options, threads, work, Console.WriteLine);
            List<StepBenchRow> rows = cases.Select((c, i) => new StepBenchRow(c, ours[i], theirs[i])).ToList();

            Console.WriteLine($"# HpcAdam {typeof(StepBenchCommand).Assembly.GetName().Version?.ToString(3)} ({communicator.Description}) " +
                              $"against PyTorch {peer.TorchVersion} ({peer.Interpreter}) on {peer.DeviceName}, {threads} thread(s)");
            Console.WriteLine(StepBenchRow.Header);
            foreach (string line in rows.SelectMany(row => row.Format()))
                Console.WriteLine(line);
            List<OptimizerAlone> optimizers = OptimizerAloneLines(rows);
            foreach (OptimizerAlone optimizer in optimizers)
                Console.WriteLine(optimizer.Format());
            foreach (string model in options.Models.Where(model => optimizers.All(o => o.Model != model)))
                Console.WriteLine($"# optimizer alone, {model}: n/a (no case where both peers ran the same model)");
            if (json is not null)
                AtomicFile.WriteAllText(json.FullName, JsonSerializer.Serialize(new
                {
                    options.Device, DeviceName = peer.DeviceName, Threads = threads, Torch = peer.TorchVersion, Python = peer.Interpreter,
                    options.Steps, options.Warmup, options.SteadySteps,
                    Rows = rows.Select(row => row.ToJson()), OptimizerAlone = optimizers.Select(o => o.ToJson()),
                }, BenchJson.Options));
            return ExitCodes.Success;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>One line per model, from its first float32 case both peers ran: the optimizer works in float32 at any precision and the same at any M and κ.</summary>
    private static List<OptimizerAlone> OptimizerAloneLines(List<StepBenchRow> rows) =>
        rows.Where(row => row.Case.Precision == StepBenchOptions.DefaultPrecision)
            .Select(row => row.OptimizerAlone()).OfType<OptimizerAlone>()
            .GroupBy(optimizer => optimizer.Model).Select(group => group.First()).ToList();

    /// <summary>Checked before anything is timed, so a typo costs no minutes of benchmark.</summary>
    private static string? Validate(string models, string configs, string precisions, int steps, int warmup, string device, FileInfo? json,
        out StepBenchOptions? options)
    {
        options = null;
        string[] modelList = List(models), precisionList = List(precisions), configList = List(configs);
        if (modelList.FirstOrDefault(model => !StepBenchOptions.ModelNames.Contains(model)) is { } badModel)
            return $"--models: '{badModel}' is not a model: use {string.Join(", ", StepBenchOptions.ModelNames)}";
        if (precisionList.FirstOrDefault(precision => !StepBenchOptions.PrecisionNames.Contains(precision)) is { } badPrecision)
            return $"--precisions: '{badPrecision}' is not a precision: use {string.Join(", ", StepBenchOptions.PrecisionNames)}";
        var batches = new List<StepConfig>();
        foreach (string config in configList)
        {
            if (ParseConfig(config) is not { } parsed)
                return $"--configs: '{config}' is not MxK with whole numbers M and K of at least 1 (e.g. 256x1)";
            batches.Add(parsed);
        }
        if (modelList.Length == 0 || configList.Length == 0 || precisionList.Length == 0)
            return $"--{(modelList.Length == 0 ? "models" : configList.Length == 0 ? "configs" : "precisions")} names nothing to time";
        if (steps < 2)
            return $"--steps {steps} must be at least 2 (the steady state is a median over steps)";
        if (warmup < 0)
            return $"--warmup {warmup} must be 0 or more";
        if (!ComputeDevice.Names.Contains(device))
            return $"--device {device} is not a device: use {string.Join(", ", ComputeDevice.Names)}";
        int gpus = ComputeDevice.VisibleGpus();
        if (device == "cuda" && gpus == 0)
            return "--device cuda: no GPU is visible to this hpcadam (a CPU build, or no GPU on this machine); use --device cpu or auto";
        if (json is { Directory.Exists: false })
            return $"--json {json.FullName}: the folder {json.DirectoryName} does not exist";
        options = new StepBenchOptions(modelList, batches.ToArray(), precisionList, steps, warmup, device == "auto" ? (gpus > 0 ? "cuda" : "cpu") : device);
        return null;
    }

    private static string[] List(string text) => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static StepConfig? ParseConfig(string text) =>
        text.Split('x') is [var m, var k]
        && int.TryParse(m, NumberStyles.None, CultureInfo.InvariantCulture, out int microBatchSize) && microBatchSize >= 1
        && int.TryParse(k, NumberStyles.None, CultureInfo.InvariantCulture, out int kappa) && kappa >= 1
            ? new StepConfig(microBatchSize, kappa)
            : null;
}
