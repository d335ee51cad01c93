using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using HpcAdam.Collectives;
using HpcAdam.Trainer.Configuration;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// `hpcadam bench scaling`: strong and weak scaling of a built-in model, measured by launching
/// `hpcadam train` at each rank count (<see cref="RankLauncher"/>, <see cref="ScalingMeasurement"/>) with
/// the cost model's prediction beside each point (<see cref="StepCostModel"/>); or, with --predict, the
/// model's projection to rank counts that were not run, from one rank's step and a network's α and β.
/// The command itself is one process that starts the ranks; it never runs under a launcher.
/// </summary>
internal static class ScalingBenchCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "The model: mlp, cnn, resnet18 or vit.", DefaultValueFactory = _ => "cnn" };
        var data = new Option<string>("--data") { Description = "The data set: synthetic (needs no files), mnist, fashion-mnist, cifar10 or npy.", DefaultValueFactory = _ => "synthetic" };
        var config = new Option<FileInfo?>("--config") { Description = "A configuration file every run reads first (Data:Dir, the model's keys, ...)." };
        var ranks = new Option<string>("--ranks") { Description = "Rank counts, comma-separated; measured runs need 1 among them.", DefaultValueFactory = _ => "1,2,4" };
        var modes = new Option<string>("--modes") { Description = "strong (fixed κ), weak (κ = P·k), or both.", DefaultValueFactory = _ => "strong,weak" };
        var microBatch = new Option<int>("--micro-batch") { Description = "Micro-batch size M.", DefaultValueFactory = _ => 32 };
        var kappa = new Option<int?>("--kappa") { Description = "Strong scaling's κ (default: the largest rank count)." };
        var perRank = new Option<int>("--per-rank") { Description = "Weak scaling's micro-batches per rank k.", DefaultValueFactory = _ => 1 };
        var steps = new Option<int>("--steps") { Description = "Steps per run; the first half warms up, the steady state is the median of the rest.", DefaultValueFactory = _ => 20 };
        var repeats = new Option<int>("--repeats") { Description = "Runs per point; the point is their median.", DefaultValueFactory = _ => 3 };
        var launcher = new Option<string?>("--launcher") { Description = "The launcher's words before -n P (default: srun --mpi=pmix in a Slurm allocation, else mpirun)." };
        var directory = new Option<DirectoryInfo?>("--dir") { Description = "Where runs write (default: a temporary folder); across hosts, a folder rank 0 and this command both see." };
        var json = new Option<FileInfo?>("--json") { Description = "Also write the points as JSON." };
        var png = new Option<FileInfo?>("--png") { Description = "Also draw samples/s and efficiency against ranks." };
        var predict = new Option<bool>("--predict") { Description = "Project the rank counts with the cost model instead of running them." };
        var preset = new Option<string?>("--preset") { Description = $"The model's network: {Interconnect.PresetNames} (default when measuring: fitted here)." };
        var allReduce = new Option<FileInfo?>("--allreduce") { Description = "The model's network fitted to these rows of hpcadam bench allreduce --json." };
        var calibration = new Option<FileInfo?>("--calibration") { Description = "With --predict: one rank's step from this JSON of a measured bench scaling, not a run now." };
        var squares = new Option<string>("--squares") { Description = "With --predict: S2 in float32, bfloat16 or both.", DefaultValueFactory = _ => ScalingBenchOptions.DefaultSquares };
        var command = new Command("scaling",
            "Strong and weak scaling of a model over rank counts, each run launched here (mpirun, srun or --launcher), with the cost model's\n" +
            "prediction beside it; --predict projects rank counts from one rank's step and a network instead. Run it as one process.")
        {
            model, data, config, ranks, modes, microBatch, kappa, perRank, steps, repeats, launcher, directory, json, png, predict, preset, allReduce,
            calibration, squares,
        };
        command.SetAction(parsed =>
        {
            var raw = new ScalingBenchOptions.Raw(parsed.GetValue(model)!, parsed.GetValue(data)!, parsed.GetValue(config), parsed.GetValue(ranks)!,
                parsed.GetValue(modes)!, parsed.GetValue(microBatch), parsed.GetValue(kappa), parsed.GetValue(perRank), parsed.GetValue(steps),
                parsed.GetValue(repeats), parsed.GetValue(launcher), parsed.GetValue(directory), parsed.GetValue(json), parsed.GetValue(png),
                parsed.GetValue(predict), parsed.GetValue(preset), parsed.GetValue(allReduce), parsed.GetValue(calibration), parsed.GetValue(squares)!);
            if (Check(raw, out ScalingBenchOptions? options, out Interconnect? network, out StepCalibration? given) is { } problem)
                return UsageError.Report($"hpcadam bench scaling: {problem}");
            string work = options!.Directory is { } parent
                ? Directory.CreateDirectory(Path.Combine(parent, $"bench-scaling-{Environment.ProcessId}")).FullName
                : Directory.CreateTempSubdirectory("hpcadam-bench-scaling-").FullName;
            try
            {
                var ranksLauncher = RankLauncher.Create(options.Launcher);
                return options.Predict ? Project(options, network!, given, ranksLauncher, work) : Measure(options, network, ranksLauncher, work);
            }
            catch (ScalingRunFailed failed)
            {
                return UsageError.Report(failed.Message, failed.ExitCode);
            }
            finally
            {
                Directory.Delete(work, recursive: true);
            }
        });
        return command;
    }

    /// <summary>Everything a user can get wrong, before a rank starts: options, the runs' settings, the files given for the model.</summary>
    private static string? Check(ScalingBenchOptions.Raw raw, out ScalingBenchOptions? options, out Interconnect? network, out StepCalibration? calibration)
    {
        (network, calibration) = (null, null);
        if (LaunchEnvironment.Detect().IsLaunched)
        {
            options = null;
            return "starts its own ranks: run it as one process, not under mpirun or srun";
        }
        if (ScalingBenchOptions.Problem(raw, out options) is { } problem)
            return problem;
        try
        {
            var settings = SettingsLoader.Load<TrainerSettings>(options!.Config, options.Overrides(options.Modes[0].KappaAt(options.Ranks[0]), "run"));
            if (settings.Problem() is { } settingsProblem)
                return settingsProblem;
        }
        catch (SettingsException error)
        {
            return error.Message;
        }
        network = options.Preset;
        if (options.AllReduce is { } rows)
        {
            try
            {
                network = AlphaBetaFit.Fit(BandwidthRow.FromJson(File.ReadAllText(rows)), "fit", $"fitted to the rows of {rows}", out string? fitProblem);
                if (fitProblem is not null)
                    return $"--allreduce {rows}: {fitProblem}";
            }
            catch (Exception error) when (error is IOException or UnauthorizedAccessException or JsonException)
            {
                return $"--allreduce {rows} cannot be read as rows of hpcadam bench allreduce --json: {error.Message}";
            }
        }
        if (options.Calibration is { } file && (calibration = ScalingJson.Calibration(file, out string? calibrationProblem)) is null)
            return calibrationProblem;
        return null;
    }

    private static int Measure(ScalingBenchOptions options, Interconnect? network, RankLauncher launcher, string work)
    {
        Console.WriteLine($"# hpcadam bench scaling: {options.Model} on {options.Data} data, M = {options.MicroBatchSize}; each run {options.Steps} steps, " +
                          $"its steady state the median of the last {options.SteadySteps}; each point the median of {options.Repeats} run(s), rounds interleaved");
        Console.WriteLine($"# ranks started by {launcher.Describe()}; {RankLauncher.ThreadsPerRank} libtorch thread(s) a rank");
        // Other work on the cores shows up as poor scaling: the table says how busy this node was when it began.
        if (File.Exists(LoadAverageFile))
            Console.WriteLine($"# this node: {Environment.ProcessorCount} cores, load average {File.ReadAllText(LoadAverageFile).Split(' ')[0]} before the first run");
        MeasuredScaling measured = ScalingMeasurement.Run(options, network, launcher, work, Console.WriteLine);

        List<MeasuredRow> rows = MeasuredRow.BesideTheModel(measured, options.Modes, options.Model, launcher.Node);
        Interconnect net = measured.Network;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# model: s(P)·(⌈κ/P⌉·t_mb + fixed) + 2(P−1)·α + 2(P−1)/P·bytes/β, t_mb and the fixed phases from each mode's 1-rank run; " +
            $"α = {net.AlphaMicroseconds:F2} µs, β = {net.BetaGbs:F3} GB/s ({net.Source}); {SharingText(launcher.Node)}"));
        Console.WriteLine(MeasuredRow.Header);
        foreach (MeasuredRow row in rows)
            Console.WriteLine(row.Format());
        // The 1-rank points calibrate the model, so only the others test it.
        MeasuredRow[] tested = rows.Where(row => row.Measured.Ranks > 1).ToArray();
        MeasuredRow worst = tested.MaxBy(row => Math.Abs(row.Error))!;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# model error beyond 1 rank: mean |error| {100 * tested.Average(row => Math.Abs(row.Error)):F1}%, largest {MeasuredRow.SignedPercent(worst.Error)} ({worst.Measured.Mode}, {worst.Measured.Ranks} ranks)"));
        if (options.Json is { } json)
            AtomicFile.WriteAllText(json, ScalingJson.Measured(options, launcher.Describe(), measured, rows));
        if (options.Png is { } png)
            ScalingFigure.Save(png, $"{options.Model}, M = {options.MicroBatchSize}: measured here (solid), model (dashed)", ScalingFigure.Measured(rows, options.Modes));
        return ExitCodes.Success;
    }

    private const string LoadAverageFile = "/proc/loadavg";

    private static string SharingText(SharedNode? node) => node is null
        ? "s(P) = 1: each rank its own cores"
        : $"s(P) = max(1, P·{node.ThreadsPerRank}/{node.Cores}): every rank on this node's {node.Cores} cores";

    private static int Project(ScalingBenchOptions options, Interconnect network, StepCalibration? given, RankLauncher launcher, string work)
    {
        StepCalibration calibration = given ?? CalibrateNow(options, network, launcher, work);
        var rows = new List<ProjectedRow>();
        foreach (string squares in options.Squares)
        {
            var costs = new StepCostModel(calibration, network, ScalingBenchOptions.SquareBytes(squares));
            foreach (ScalingMode mode in options.Modes)
            {
                ScalingPoint one = costs.Predict(mode.Name, 1, mode.KappaAt(1));
                foreach (int ranks in options.Ranks)
                {
                    ScalingPoint point = costs.Predict(mode.Name, ranks, mode.KappaAt(ranks));
                    rows.Add(new ProjectedRow(squares, point, point.EfficiencyAgainst(one)));
                }
            }
        }
        StepCalibration c = calibration;
        Console.WriteLine($"# hpcadam bench scaling --predict: {c.Model}, M = {c.MicroBatchSize}, projected by the cost model, not measured");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# one rank's step ({(given is null ? "a run now" : options.Calibration)}): compute {c.ComputeMsPerMicroBatch:F2} ms a micro-batch; fixed: comm {c.CommunicationMs:F2} " +
            $"(without the network), optimizer {c.OptimizerMs:F2}, statistics {c.StatisticsMs:F2}, other {c.OtherMs:F2} ms a step; {c.Parameters} parameters, " +
            $"{c.Bytes(sizeof(float)) / 1e6:F3} MB all-reduced a step with float32 squares"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# network {network.Name}: α = {network.AlphaMicroseconds:F2} µs, β = {network.BetaGbs:F3} GB/s ({network.Source}); each rank its own compute"));
        Console.WriteLine(ProjectedRow.Header);
        foreach (ProjectedRow row in rows)
            Console.WriteLine(row.Format());
        if (options.Json is { } json)
            AtomicFile.WriteAllText(json, ScalingJson.Predicted(calibration, network, rows));
        if (options.Png is { } png)
            ScalingFigure.Save(png, $"{c.Model}, M = {c.MicroBatchSize}: predicted with {network.Name} (float32 squares solid, bfloat16 dashed)",
                ScalingFigure.Projected(rows, options.Modes));
        return ExitCodes.Success;
    }

    /// <summary>One rank's step, measured now: runs of one micro-batch a step on one rank, the median of --repeats.</summary>
    private static StepCalibration CalibrateNow(ScalingBenchOptions options, Interconnect network, RankLauncher launcher, string work)
    {
        Console.WriteLine($"# calibrating: {options.Model} on {options.Data} data, M = {options.MicroBatchSize}, one rank, κ = 1, " +
                          $"{options.Steps} steps a run, the median of {options.Repeats} run(s); started by {launcher.Describe()}");
        ScalingBenchOptions one = options with { Ranks = [1], Modes = [new ScalingMode(ScalingMode.Weak, 1)] };
        MeasuredScaling measured = ScalingMeasurement.Run(one, network, launcher, work, Console.WriteLine);
        return StepCalibration.FromOneRank(options.Model, measured.Parameters, measured.Points[0]);
    }
}
