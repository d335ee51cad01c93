using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HpcAdam.Collectives;

namespace HpcAdam.Trainer.Probe;

/// <summary>`hpcadam invariance-probe`: where batch-size invariance holds for this model and data, and where it breaks.</summary>
internal static class InvarianceProbeCommand
{
    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "mnist, fashion-mnist, cifar10 or synthetic.", DefaultValueFactory = _ => "mnist" };
        var dataDirectory = new Option<string>("--data-dir") { Description = "Folder that scripts/fetch-data.sh filled.", DefaultValueFactory = _ => "data" };
        var hidden = new Option<string>("--hidden") { Description = "MLP hidden widths, e.g. 128 or 512,256.", DefaultValueFactory = _ => "128" };
        var microBatchSize = new Option<int>("--micro-batch-size") { Description = "M, samples per micro-batch.", DefaultValueFactory = _ => 25 };
        var microBatches = new Option<int>("--micro-batches") { Description = "K, micro-batches every run consumes (a multiple of every κ).", DefaultValueFactory = _ => 64 };
        var warmup = new Option<int>("--warmup") { Description = "Micro-batches of Micro-Adam before the comparison, so the moments have a history.", DefaultValueFactory = _ => 256 };
        var kappas = new Option<string>("--kappas") { Description = "Micro-batches per merged step.", DefaultValueFactory = _ => "1,2,4,8,16" };
        var learningRates = new Option<string>("--lrs") { Description = "Base learning rates η0, at the largest κ.", DefaultValueFactory = _ => "1e-4,1e-3,1e-2,3e-2,1e-1" };
        var gamma1 = new Option<double>("--gamma1") { Description = "γ1 at the largest κ (the paper's 0.1).", DefaultValueFactory = _ => 0.1 };
        var gamma2 = new Option<double>("--gamma2") { Description = "γ2 at the largest κ (the paper's 0.001).", DefaultValueFactory = _ => 0.001 };
        var threshold = new Option<double>("--threshold") { Description = "Discrepancy under which BSI-Adam counts as invariant.", DefaultValueFactory = _ => 0.1 };
        var seed = new Option<long>("--seed") { Description = "Seed of the initial weights and of the micro-batch stream.", DefaultValueFactory = _ => 0 };
        var json = new Option<FileInfo?>("--json") { Description = "Also write {runs: [{optimizer, scaling, lr, kappa, discrepancy}], critical_lr, threshold}." };
        var command = new Command("invariance-probe",
            "From the initial weights after a warm-up of Micro-Adam, run the same K micro-batches as Micro-Adam (κ = 1) and as merged steps of κ micro-batches\n" +
            "with BSI-Adam (linear scaling) and standard Adam (sqrt scaling), for each base learning rate, and print\n" +
            "‖w_κ − w_micro‖ / ‖w_micro − w_0‖ and the largest learning rate at which BSI-Adam stays under the threshold\n" +
            "(the paper's critical learning rate, Fig. 2). Hyperparameters are given at the largest κ, as in the paper's §5.\n" +
            "Single process, or under mpirun/srun: each step's micro-batches are shared among the ranks.")
        {
            data, dataDirectory, hidden, microBatchSize, microBatches, warmup, kappas, learningRates, gamma1, gamma2, threshold, seed, json,
        };
        command.SetAction(parsed =>
        {
            const string name = "hpcadam invariance-probe";
            if (!TryList(parsed.GetValue(hidden)!, ParseInt, out int[] widths) || !TryList(parsed.GetValue(kappas)!, ParseInt, out int[] kappaList)
                || !TryList(parsed.GetValue(learningRates)!, text => double.Parse(text, CultureInfo.InvariantCulture), out double[] rates))
                return UsageError.Report($"{name}: --hidden, --kappas and --lrs take comma-separated numbers, e.g. --kappas 1,2,4,8");
            var settings = new ProbeSettings(parsed.GetValue(data)!, parsed.GetValue(dataDirectory)!, widths, parsed.GetValue(microBatchSize),
                parsed.GetValue(microBatches), parsed.GetValue(warmup), kappaList.Distinct().Order().ToArray(), rates.Distinct().Order().ToArray(),
                parsed.GetValue(gamma1), parsed.GetValue(gamma2), parsed.GetValue(threshold), parsed.GetValue(seed));
            FileInfo? output = parsed.GetValue(json);
            string? problem = settings.Problem()
                ?? (output is { Directory.Exists: false } ? $"--json {output.FullName}: the folder {output.DirectoryName} does not exist" : null);
            if (problem is not null)
                return UsageError.Report($"{name}: {problem}");
            return Job.Run(communicator => Run(communicator, settings, output));
        });
        return command;
    }

    private static int Run(ICommunicator communicator, ProbeSettings settings, FileInfo? json)
    {
        bool report = communicator.Rank == 0;
        if (report)
            Console.WriteLine($"# hpcadam invariance-probe: {settings.Data}, MLP {string.Join("-", settings.Hidden)}, M = {settings.MicroBatchSize}, " +
                              $"K = {settings.MicroBatches} micro-batches, {communicator.Size} rank(s); γ1 = {settings.Gamma1}, γ2 = {settings.Gamma2} at κ = {settings.MaxKappa}");
        var probe = new InvarianceProbe(communicator, settings, line =>
        {
            if (report)
                Console.WriteLine($"# {line}");
        });
        IReadOnlyList<InvarianceProbe.Run> runs = probe.Measure();
        double? critical = InvarianceProbe.CriticalLearningRate(runs, settings.Threshold);
        if (!report)
            return ExitCodes.Success;

        Console.WriteLine("# relative weight discrepancy against Micro-Adam, ‖w_κ − w_micro‖ / ‖w_micro − w_0‖");
        Console.WriteLine($"{"lr",-10} {"optimizer",-16}" + string.Concat(settings.Kappas.Select(kappa => $" {"κ=" + kappa,10}")));
        foreach (var row in runs.GroupBy(run => (run.LearningRate, run.Optimizer, run.Scaling)))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row.Key.LearningRate,-10:G3} {row.Key.Optimizer + " " + row.Key.Scaling,-16}") +
                              string.Concat(row.Select(run => string.Create(CultureInfo.InvariantCulture, $" {run.Discrepancy,10:0.000e+0}"))));
        Console.WriteLine(critical is { } rate
            ? string.Create(CultureInfo.InvariantCulture, $"critical learning rate: {rate:G3} (BSI-Adam under {settings.Threshold} at every κ up to this base learning rate)")
            : $"critical learning rate: below {settings.LearningRates[0]} (BSI-Adam exceeds {settings.Threshold} at the smallest base learning rate tried)");
        if (json is not null)
            AtomicFile.WriteAllText(json.FullName, JsonSerializer.Serialize(new
            {
                runs = runs.Select(run => new { optimizer = run.Optimizer, scaling = run.Scaling, lr = run.LearningRate, kappa = run.Kappa, discrepancy = run.Discrepancy }),
                critical_lr = critical,
                threshold = settings.Threshold,
            }));
        return ExitCodes.Success;
    }

    private static int ParseInt(string text) => int.Parse(text, CultureInfo.InvariantCulture);

    private static bool TryList<T>(string text, Func<string, T> parse, out T[] values)
    {
        try
        {
            values = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(parse).ToArray();
            return values.Length > 0;
        }
        catch (FormatException)
        {
            values = [];
            return false;
        }
        catch (OverflowException)
        {
            values = [];
            return false;
        }
    }
}
