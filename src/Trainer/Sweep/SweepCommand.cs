using System.CommandLine;
using System.Globalization;
using HpcAdam.Collectives;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Training;

namespace HpcAdam.Trainer.Sweep;

/// <summary>
/// `hpcadam sweep --config FILE`: the paper's §5 grid (<see cref="SweepPlan"/>), one training run
/// per grid point in Sweep:Dir, then curves.csv, invariance.json, invariance.png and the gap
/// table. A run whose summary.json exists is skipped, so an interrupted sweep goes on where it
/// stopped; an unfinished run starts again. A run stopped by Train:MaxSkips is marked diverged
/// (its gap is infinite) and the sweep goes on. Under mpirun or srun every run uses all ranks.
/// </summary>
internal static class SweepCommand
{
    public const string SettingsFile = "sweep.json", CurvesFile = "curves.csv", GapFile = "invariance.json", FigureFile = "invariance.png";
    public const string DivergedFile = "diverged";

    public static Command Create() =>
        SettingsCommand.Create("sweep",
            "Does batch-size invariance hold? Train BSI-Adam and Adam over Sweep:Lrs × Sweep:Kappas on the same samples; write curves, the gap table and a figure.",
            key => key.Section != nameof(TrainerSettings.Probe) && !SweepPlan.SetPerRun.Contains(key.Path),
            (_, settings) =>
            {
                SweepPlan plan = Check(settings);
                return DataParallelJob.Run(communicator => Run(communicator, plan));
            });

    /// <summary>Every run's settings and the data, checked before MPI starts; a folder holding another sweep is refused.</summary>
    private static SweepPlan Check(TrainerSettings settings)
    {
        SweepPlan plan = SweepPlan.From(settings);
        foreach (SweepRun run in plan.Runs)
            if (plan.SettingsOf(run).Problem() is { } problem)
                throw new SettingsException($"the run {run.Name}: {problem}");
        TrainingData.Load(settings).Dispose();
        if (FolderProblem(plan) is { } folder)
            throw new SettingsException(folder);
        return plan;
    }

    /// <summary>Why Sweep:Dir cannot take this sweep: it holds another one, or other files; null when it is new or this sweep's.</summary>
    private static string? FolderProblem(SweepPlan plan)
    {
        string saved = Path.Combine(plan.Directory, SettingsFile);
        if (File.Exists(saved) && File.ReadAllText(saved) != SettingsLoader.ToJson(plan.BaseSettings))
            return $"{plan.Directory} holds a sweep with other settings ({saved}): choose another Sweep:Dir";
        if (!File.Exists(saved) && Directory.Exists(plan.Directory)
            && Directory.EnumerateFileSystemEntries(plan.Directory).Any(entry => Path.GetFileName(entry) != RunFolderLock.FileName))
            return $"{plan.Directory} is not empty and holds no {SettingsFile}: choose another Sweep:Dir";
        return null;
    }

    private static int Run(ICommunicator communicator, SweepPlan plan)
    {
        bool root = communicator.Rank == 0;
        // One sweep per folder, as one job per run folder; checked again under the lock.
        using RunFolderLock? folderLock = RunFolderLock.TakeOnRankZero(communicator, plan.Directory, "Sweep:Dir", plan.BaseSettings.Run.Lock,
            () => FolderProblem(plan), out string? refusal);
        if (refusal is not null)
            return UsageError.Report($"hpcadam sweep: {refusal}", ExitCodes.FolderBusy);
        if (root)
        {
            Directory.CreateDirectory(plan.Directory);
            AtomicFile.WriteAllText(Path.Combine(plan.Directory, SettingsFile), SettingsLoader.ToJson(plan.BaseSettings));
        }
        for (int index = 0; index < plan.Runs.Count; index++)
        {
            SweepRun run = plan.Runs[index];
            string directory = plan.RunDirectory(run);
            // Rank 0 decides, for every rank, whether the run is done (finished or diverged), and clears an unfinished one.
            Span<int> finished = [root && (File.Exists(Path.Combine(directory, RunFolder.SummaryFile)) || File.Exists(Path.Combine(directory, DivergedFile))) ? 1 : 0];
            if (root && finished[0] == 0 && Directory.Exists(directory))
                Directory.Delete(directory, recursive: true);
            communicator.Broadcast(finished, root: 0);
            string what = string.Create(CultureInfo.InvariantCulture,
                $"run {index + 1}/{plan.Runs.Count}: {run.Optimizer} ({run.Scaling}), η0 = {run.Lr:g4}, κ = {run.Kappa} (B = {run.Kappa * plan.MicroBatchSize})");
            if (root)
                Console.WriteLine(finished[0] == 1 ? $"== {what}: complete, skipped" : $"== {what}");
            if (finished[0] == 1)
                continue;
            using BuiltInJob job = TrainCommand.Prepare(plan.SettingsOf(run));
            try
            {
                (int exitCode, bool stopped) = TrainCommand.Run(job.Trainer, communicator);
                if (exitCode != ExitCodes.Success)
                    return exitCode;
                if (stopped)
                {
                    // SIGTERM or SIGUSR1 stops the sweep too; the same command goes on later, redoing this run.
                    if (root)
                        Console.WriteLine($"== {what}: stopped by a signal; run the same command again to go on");
                    return ExitCodes.Success;
                }
            }
            catch (DivergedException diverged)
            {
                // A learning rate too large for a batch size is a result of the sweep, not a failure: its gap is infinite.
                if (root)
                {
                    AtomicFile.WriteAllText(Path.Combine(directory, DivergedFile), diverged.Message + "\n");
                    Console.WriteLine($"== {what}: diverged ({diverged.Message})");
                }
            }
        }
        if (root)
            Report(plan);
        return ExitCodes.Success;
    }

    private static void Report(SweepPlan plan)
    {
        List<RunCurve> curves = plan.Runs.Select(run => SweepCurves.Read(run, plan.RunDirectory(run))).ToList();
        SweepCurves.WriteCsv(Path.Combine(plan.Directory, CurvesFile), curves, plan.MicroBatchSize);
        List<GapRow> gaps = InvarianceGap.Measure(curves);
        double threshold = plan.BaseSettings.Sweep.Threshold;
        double? critical = InvarianceGap.CriticalLearningRate(gaps, threshold);
        InvarianceGap.WriteJson(Path.Combine(plan.Directory, GapFile), gaps, critical, threshold);
        SweepFigure.Save(Path.Combine(plan.Directory, FigureFile), curves, plan.Lrs, plan.Kappas);
        Console.WriteLine($"== invariance gap: max over batch sizes and curve points of |L_B − L_Bmin| / L_Bmin (train loss, mean over each {plan.BaseSettings.Sweep.EvalEverySamples} samples)");
        InvarianceGap.PrintTable(Console.Out, gaps, critical, threshold);
        Console.WriteLine($"outputs in {plan.Directory}: {CurvesFile}, {GapFile}, {FigureFile}");
    }
}
