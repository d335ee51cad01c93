using System.Globalization;
using HpcAdam.Trainer.Configuration;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// What `hpcadam bench scaling` does, checked: the training each point runs (model, data, an optional
/// configuration file, micro-batch size M, steps per run), the rank counts and modes, the repeats, the
/// launcher and folder, and where the model's network comes from. With <see cref="Predict"/> nothing
/// runs at the rank counts: they are projected from one rank's step (<see cref="Calibration"/>, or a run now).
/// </summary>
internal sealed record ScalingBenchOptions(string Model, string Data, string? Config, int[] Ranks, ScalingMode[] Modes, int MicroBatchSize,
    int Steps, int Repeats, string? Launcher, string? Directory, string? Json, string? Png, bool Predict, Interconnect? Preset, string? AllReduce,
    string? Calibration, string[] Squares)
{
    public const string Float32 = "float32", BFloat16 = "bfloat16";
    public static readonly string[] SquareNames = [Float32, BFloat16];

    /// <summary>Bytes a parameter of S2 in each precision of --squares.</summary>
    public static int SquareBytes(string squares) => squares == BFloat16 ? 2 : sizeof(float);

    /// <summary>The trainer's steady state: the median of the last half of a run's steps.</summary>
    public int SteadySteps => Math.Min(Steps / 2, StepTimings.SteadyWindow);

    /// <summary>The measured points: every mode at every rank count.</summary>
    public IEnumerable<(ScalingMode Mode, int Ranks)> Points() => from mode in Modes from ranks in Ranks select (mode, ranks);

    /// <summary>One run at κ micro-batches a step, as `hpcadam train` arguments: the file's settings, then <see cref="Overrides"/> over them.</summary>
    public List<string> TrainArguments(int kappa, string runDirectory) =>
        ["train", .. Config is null ? [] : new[] { "--config", Config }, .. Overrides(kappa, runDirectory)];

    /// <summary>The settings the bench gives every run, over those of --config.</summary>
    public string[] Overrides(int kappa, string runDirectory) =>
    [
        $"--Model:Name={Model}", $"--Data:Name={Data}", Invariant($"--Batch:MicroBatchSize={MicroBatchSize}"), Invariant($"--Batch:Kappa={kappa}"),
        Invariant($"--Train:Steps={Steps}"), $"--Run:Dir={runDirectory}",
        // The run's one evaluation, after its last step and outside its timings, on a single micro-batch's worth of test samples.
        Invariant($"--Eval:Samples={MicroBatchSize}"), "--Eval:Every=0",
    ];

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>The first problem with the options, naming the option; null when they can run.</summary>
    public static string? Problem(Raw raw, out ScalingBenchOptions? options)
    {
        options = null;
        if (!TrainerSettings.Models.Contains(raw.Model))
            return $"--model '{raw.Model}' is not a model: use one of {string.Join(", ", TrainerSettings.Models)}";
        if (!TrainerSettings.DataSets.Contains(raw.Data))
            return $"--data '{raw.Data}' is not a data set: use one of {string.Join(", ", TrainerSettings.DataSets)}";
        if (raw.Config is { Exists: false })
            return $"--config {raw.Config.FullName} does not exist";
        if (Counts(raw.Ranks) is not { } ranks)
            return $"--ranks '{raw.Ranks}' is not a comma-separated list of different rank counts from 1 to {MaxRanks} (e.g. 1,2,4)";
        if (!raw.Predict && (!ranks.Contains(1) || ranks.Length < 2))
            return $"--ranks '{raw.Ranks}' must hold 1 and at least one more count: efficiency and the model's calibration are against the 1-rank run";
        string[] modeNames = List(raw.Modes);
        if (modeNames.Length == 0 || modeNames.Any(mode => !ScalingMode.Names.Contains(mode)))
            return $"--modes '{raw.Modes}' must name strong, weak or both";
        int kappa = raw.Kappa ?? ranks[^1];
        if (raw.MicroBatchSize < 1 || kappa < 1 || raw.PerRank < 1)
            return raw.MicroBatchSize < 1 ? $"--micro-batch {raw.MicroBatchSize} must be at least 1" :
                kappa < 1 ? $"--kappa {kappa} must be at least 1" : $"--per-rank {raw.PerRank} must be at least 1";
        if (modeNames.Contains(ScalingMode.Weak) && (long)raw.PerRank * ranks[^1] > int.MaxValue)
            return $"--per-rank {raw.PerRank} on {ranks[^1]} ranks is a κ beyond {int.MaxValue}";
        if (modeNames.Contains(ScalingMode.Strong) && kappa < ranks[^1])
            return $"--kappa {kappa} is smaller than {ranks[^1]} ranks: strong scaling would leave ranks without a micro-batch";
        if (raw.Steps < 2)
            return $"--steps {raw.Steps} must be at least 2 (the steady state is the median of a run's last half)";
        if (raw.Repeats < 1)
            return $"--repeats {raw.Repeats} must be at least 1";
        if (raw.Launcher is not null && string.IsNullOrWhiteSpace(raw.Launcher))
            return "--launcher is empty: give the launcher's words, e.g. \"mpirun --hostfile hosts\"";
        if (raw.Directory is { Exists: false })
            return $"--dir {raw.Directory.FullName} does not exist";
        foreach ((string option, FileInfo? file) in new[] { ("--json", raw.Json), ("--png", raw.Png) })
            if (file is { Directory.Exists: false })
                return $"{option} {file.FullName}: the folder {file.DirectoryName} does not exist";
        if (NetworkProblem(raw) is { } network)
            return network;
        string[] squares = List(raw.Squares);
        if (squares.Length == 0 || squares.Any(name => !SquareNames.Contains(name)))
            return $"--squares '{raw.Squares}' must name float32, bfloat16 or both";
        if (!raw.Predict && (raw.Calibration is not null || raw.Squares != DefaultSquares))
            return $"{(raw.Calibration is not null ? "--calibration" : "--squares")} is for --predict: a measured run has float32 squares and calibrates itself";
        ScalingMode[] modes = modeNames.Distinct().Select(name => new ScalingMode(name, name == ScalingMode.Strong ? kappa : raw.PerRank)).ToArray();
        options = new ScalingBenchOptions(raw.Model, raw.Data, raw.Config?.FullName, ranks, modes, raw.MicroBatchSize, raw.Steps, raw.Repeats, raw.Launcher,
            raw.Directory?.FullName, raw.Json?.FullName, raw.Png?.FullName, raw.Predict, raw.Preset is null ? null : Interconnect.Preset(raw.Preset), raw.AllReduce?.FullName,
            raw.Calibration?.FullName, squares.Distinct().ToArray());
        return null;
    }

    public const string DefaultSquares = "float32,bfloat16";

    private static string? NetworkProblem(Raw raw)
    {
        if (raw.Preset is not null && Interconnect.Preset(raw.Preset) is null)
            return $"--preset '{raw.Preset}' is not a preset: use one of {Interconnect.PresetNames}";
        if (raw.Preset is not null && raw.AllReduce is not null)
            return "--preset and --allreduce both give the network: use one";
        if (raw.Predict && raw.Preset is null && raw.AllReduce is null)
            return $"--predict needs the network: --preset NAME ({Interconnect.PresetNames}) or --allreduce FILE (rows of hpcadam bench allreduce --json)";
        foreach ((string option, FileInfo? file) in new[] { ("--allreduce", raw.AllReduce), ("--calibration", raw.Calibration) })
            if (file is { Exists: false })
                return $"{option} {file.FullName} does not exist";
        return null;
    }

    /// <summary>More ranks than any machine has; it keeps weak scaling's κ = P·k far from overflow.</summary>
    private const int MaxRanks = 1 << 20;

    /// <summary>Distinct counts from 1 to <see cref="MaxRanks"/>, ascending; null when the text is not such a list.</summary>
    private static int[]? Counts(string text)
    {
        string[] parts = List(text);
        int[] counts = parts.Select(part => int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int count) ? count : 0).ToArray();
        return counts.Length > 0 && counts.All(count => count is >= 1 and <= MaxRanks) && counts.Distinct().Count() == counts.Length
            ? counts.Order().ToArray()
            : null;
    }

    private static string[] List(string text) => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    /// <summary>The options as given on the command line.</summary>
    public sealed record Raw(string Model, string Data, FileInfo? Config, string Ranks, string Modes, int MicroBatchSize, int? Kappa, int PerRank,
        int Steps, int Repeats, string? Launcher, DirectoryInfo? Directory, FileInfo? Json, FileInfo? Png, bool Predict, string? Preset,
        FileInfo? AllReduce, FileInfo? Calibration, string Squares);
}
