using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HpcAdam.Collectives;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Sweep;

namespace HpcAdam.Trainer.Probe;

/// <summary>`hpcadam invariance-probe`: where batch-size invariance holds for this model and data, and where it breaks.</summary>
internal static class InvarianceProbeCommand
{
    /// <summary>The sections and keys the probe reads; the grid is the sweep's.</summary>
    private static readonly string[] s_reads =
    [
        "Model", "Data", "Batch:MicroBatchSize", "Optimizer:Gamma1", "Optimizer:Gamma2", "Optimizer:Eps", "Optimizer:WeightDecay", "Train:Seed",
        "Sweep:Kappas", "Sweep:Lrs", "Sweep:Threshold", "Probe",
    ];

    public static Command Create()
    {
        var json = new Option<FileInfo?>("--json") { Description = "Also write {runs: [{optimizer, scaling, lr, kappa, discrepancy}], critical_lr, threshold}." };
        return SettingsCommand.Create("invariance-probe",
            "A quick check of one trajectory: κ steps of Micro-Adam against one merged step of BSI-Adam and of Adam, over Sweep:Lrs × Sweep:Kappas.",
            key => s_reads.Contains(key.Section) || s_reads.Contains(key.Path),
            (parsed, settings) =>
            {
                (int[] kappas, double[] lrs) = SweepPlan.Grid(settings.Sweep);
                FileInfo? output = parsed.GetValue(json);
                if (output is { Directory.Exists: false })
                    throw new SettingsException($"--json {output.FullName}: the folder {output.DirectoryName} does not exist");
                TrainingData data = InvarianceProbe.Check(settings, kappas);
                return DataParallelJob.Run(communicator => Run(communicator, new InvarianceProbe(communicator, settings, kappas, lrs, data), output));
            },
            json);
    }

    private static int Run(ICommunicator communicator, InvarianceProbe probe, FileInfo? json)
    {
        TrainerSettings settings = probe.Settings;
        bool report = communicator.Rank == 0;
        if (report)
            Console.WriteLine($"# hpcadam invariance-probe: {settings.Data.Name}, {settings.Model.Name}, M = {settings.Batch.MicroBatchSize}, " +
                              $"K = {settings.Probe.MicroBatches} micro-batches, {communicator.Size} rank(s); " +
                              string.Create(CultureInfo.InvariantCulture, $"γ1 = {settings.Optimizer.Gamma1}, γ2 = {settings.Optimizer.Gamma2} at κ = {probe.MaxKappa}"));
        IReadOnlyList<InvarianceProbe.Run> runs = probe.Measure(line =>
        {
            if (report)
                Console.WriteLine($"# {line}");
        });
        double threshold = settings.Sweep.Threshold;
        double? critical = InvarianceProbe.CriticalLearningRate(runs, threshold);
        if (!report)
            return ExitCodes.Success;

        Console.WriteLine("# relative weight discrepancy against Micro-Adam, ‖w_κ − w_micro‖ / ‖w_micro − w_0‖");
        Console.WriteLine($"{"lr",-10} {"optimizer",-16}" + string.Concat(probe.Kappas.Select(kappa => $" {"κ=" + kappa,10}")));
        foreach (var row in runs.GroupBy(run => (run.LearningRate, run.Optimizer, run.Scaling)))
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{row.Key.LearningRate,-10:G3} {row.Key.Optimizer + " " + row.Key.Scaling,-16}") +
                              string.Concat(row.Select(run => string.Create(CultureInfo.InvariantCulture, $" {run.Discrepancy,10:0.000e+0}"))));
        Console.WriteLine(critical is { } rate
            ? string.Create(CultureInfo.InvariantCulture, $"critical learning rate: {rate:G3} (BSI-Adam under {threshold} at every κ up to this base learning rate)")
            : string.Create(CultureInfo.InvariantCulture, $"critical learning rate: below {probe.LearningRates[0]} (BSI-Adam exceeds {threshold} at the smallest base learning rate tried)"));
        if (json is not null)
            AtomicFile.WriteAllText(json.FullName, JsonSerializer.Serialize(new
            {
                runs = runs.Select(run => new { optimizer = run.Optimizer, scaling = run.Scaling, lr = run.LearningRate, kappa = run.Kappa, discrepancy = run.Discrepancy }),
                critical_lr = critical,
                threshold,
            }));
        return ExitCodes.Success;
    }
}
