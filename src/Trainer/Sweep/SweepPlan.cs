using System.Globalization;
using System.Text.Json;
using HpcAdam.Trainer.Configuration;

namespace HpcAdam.Trainer.Sweep;

/// <summary>One grid point of a sweep: an optimizer with its scaling rule, a base learning rate, a κ, and its run folder's name.</summary>
internal sealed record SweepRun(string Optimizer, string Scaling, double Lr, int Kappa, string Name);

/// <summary>
/// The grid of the paper's §5 (docs/ALGORITHMS.md, "Scale of the results to reproduce"): {BSI-Adam with the linear
/// rule, standard Adam with the square-root rule} × base learning rates × κ over a fixed M.
/// Every hyperparameter is given at B_max = M·κ_max and scaled to each κ (η' = η0·B/B_max or
/// η0·√(B/B_max), γ' = γ·B/B_max), the learning rate is constant, and every run trains on the
/// same samples of the same global stream, so runs differ only in how the stream is batched.
/// </summary>
internal sealed class SweepPlan
{
    public static readonly (string Optimizer, string Scaling)[] Optimizers = [("adam", "sqrt"), ("bsi-adam", "linear")];

    /// <summary>The keys <see cref="SettingsOf"/> sets for each run, whatever the configuration says.</summary>
    public static readonly string[] SetPerRun =
        ["Optimizer:Name", "Optimizer:Scaling", "Optimizer:Lr", "Optimizer:ReferenceKappa", "Batch:Kappa", "Train:Steps", "Train:Epochs", "Eval:Every", "Checkpoint:Every", "Run:Dir", "Run:Resume"];

    private SweepPlan(TrainerSettings baseSettings, int[] kappas, double[] lrs, string directory)
    {
        (BaseSettings, Kappas, Lrs, Directory) = (baseSettings, kappas, lrs, directory);
        Runs = [.. from optimizer in Optimizers from lr in lrs from kappa in kappas
                   select new SweepRun(optimizer.Optimizer, optimizer.Scaling, lr, kappa,
                       string.Create(CultureInfo.InvariantCulture, $"{optimizer.Optimizer}-lr{lr:g4}-k{kappa}"))];
    }

    public TrainerSettings BaseSettings { get; }
    public int[] Kappas { get; }
    public double[] Lrs { get; }
    public string Directory { get; }
    public IReadOnlyList<SweepRun> Runs { get; }
    public int MaxKappa => Kappas[^1];
    public int MicroBatchSize => BaseSettings.Batch.MicroBatchSize;

    /// <summary>The plan of checked settings; throws <see cref="SettingsException"/> naming the key of the first problem.</summary>
    public static SweepPlan From(TrainerSettings settings)
    {
        SweepSettings sweep = settings.Sweep;
        (int[] kappas, double[] lrs) = Grid(sweep);
        long batchMax = (long)kappas[^1] * settings.Batch.MicroBatchSize;
        if (sweep.Samples < batchMax || sweep.Samples % batchMax != 0)
            throw new SettingsException($"Sweep:Samples = {sweep.Samples} must be a positive multiple of B_max = {batchMax} (M × the largest κ), so every run sees the same samples");
        if (sweep.EvalEverySamples < batchMax || sweep.EvalEverySamples % batchMax != 0 || sweep.Samples % sweep.EvalEverySamples != 0)
            throw new SettingsException($"Sweep:EvalEverySamples = {sweep.EvalEverySamples} must be a multiple of B_max = {batchMax} that divides Sweep:Samples = {sweep.Samples}");
        if (SamplingTestName(settings) != "none")
            throw new SettingsException("Adaptive:Test must be none in a sweep: every run keeps its κ");
        sweep.Dir = sweep.Dir.Length > 0 ? sweep.Dir : Path.Combine("sweeps", DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        return new SweepPlan(settings, kappas, lrs, sweep.Dir);
    }

    /// <summary>Sweep:Kappas and Sweep:Lrs, each sorted without repeats, and a checked Sweep:Threshold; the grid invariance-probe measures too.</summary>
    public static (int[] Kappas, double[] Lrs) Grid(SweepSettings sweep)
    {
        int[] kappas = Parse<int>(sweep.Kappas, "Sweep:Kappas", text => int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int k) && k >= 1 ? k : (int?)null);
        double[] lrs = Parse<double>(sweep.Lrs, "Sweep:Lrs",
            text => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double lr) && lr > 0 && double.IsFinite(lr) ? lr : (double?)null);
        if (!(sweep.Threshold > 0))
            throw new SettingsException($"Sweep:Threshold = {sweep.Threshold.ToString(CultureInfo.InvariantCulture)} must be positive");
        return (kappas, lrs);
    }

    /// <summary>The settings of one run: the base settings with the run's optimizer, rule, rates at B_max, κ, length and folder.</summary>
    public TrainerSettings SettingsOf(SweepRun run)
    {
        TrainerSettings settings = JsonSerializer.Deserialize<TrainerSettings>(SettingsLoader.ToJson(BaseSettings))!;
        long batch = (long)run.Kappa * MicroBatchSize;
        settings.Optimizer.Name = run.Optimizer;
        settings.Optimizer.Scaling = run.Scaling;
        settings.Optimizer.Lr = run.Lr;
        settings.Optimizer.ReferenceKappa = MaxKappa;
        settings.Batch.Kappa = run.Kappa;
        settings.Train.Steps = BaseSettings.Sweep.Samples / batch;
        settings.Eval.Every = (int)(BaseSettings.Sweep.EvalEverySamples / batch);
        settings.Checkpoint.Every = 0;
        settings.Run.Dir = RunDirectory(run);
        // An unfinished run of a sweep starts again from the beginning (SweepCommand).
        settings.Run.Resume = "";
        return settings;
    }

    public string RunDirectory(SweepRun run) => Path.Combine(Directory, run.Name);

    private static string SamplingTestName(TrainerSettings settings) => settings.Adaptive.Test.Trim().ToLowerInvariant();

    private static T[] Parse<T>(string text, string key, Func<string, T?> parse) where T : struct, IComparable<T>
    {
        T?[] values = text.Split(',', StringSplitOptions.TrimEntries).Select(parse).ToArray();
        if (values.Length == 0 || values.Any(value => value is null))
            throw new SettingsException($"{key} = '{text}' must be comma-separated positive numbers, e.g. 1,2,4,8");
        return values.Select(value => value!.Value).Distinct().Order().ToArray();
    }
}
