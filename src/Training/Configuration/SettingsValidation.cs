using System.Globalization;
using HpcAdam.Optim;

namespace HpcAdam.Training;

/// <summary>
/// Checks the values of <see cref="TrainingSettings"/> before anything runs, so a bad value is one
/// line naming its key and what to do, and never an error halfway through a job.
/// </summary>
internal static class SettingsValidation
{
    /// <summary>The configuration key of each <see cref="AdamHyperparameters"/> parameter.</summary>
    private static readonly Dictionary<string, string> s_optimizerKeys = new()
    {
        [nameof(AdamHyperparameters.LearningRate)] = "Optimizer:Lr",
        [nameof(AdamHyperparameters.Gamma1)] = "Optimizer:Gamma1",
        [nameof(AdamHyperparameters.Gamma2)] = "Optimizer:Gamma2",
        [nameof(AdamHyperparameters.Epsilon)] = "Optimizer:Eps",
        [nameof(AdamHyperparameters.WeightDecay)] = "Optimizer:WeightDecay",
        [nameof(LearningRateSchedule.WarmupSamples)] = "Optimizer:WarmupSamples",
        [nameof(LearningRateSchedule.ScheduleSamples)] = "Optimizer:ScheduleSamples",
        [nameof(LearningRateSchedule.LrEndFactor)] = "Optimizer:LrEndFactor",
        [nameof(LearningRateSchedule.StepSamples)] = "Optimizer:StepSamples",
        [nameof(LearningRateSchedule.StepFactor)] = "Optimizer:StepFactor",
    };

    /// <summary>Optimizer:Scaling's names, in the order of <see cref="ScalingRule"/>.</summary>
    public static readonly string[] ScalingRules = ["linear", "sqrt", "none"];

    /// <summary>Optimizer:Schedule's names, in the order of <see cref="ScheduleKind"/>.</summary>
    public static readonly string[] Schedules = ["constant", "cosine", "linear", "step"];

    /// <summary>The first problem, naming its key; null when the settings can run.</summary>
    public static string? Problem(TrainingSettings settings)
    {
        if (settings.Batch.MicroBatchSize < 1)
            return $"Batch:MicroBatchSize = {settings.Batch.MicroBatchSize} must be at least 1";
        if (settings.Batch.Kappa < 1)
            return $"Batch:Kappa = {settings.Batch.Kappa} must be at least 1 (micro-batches per step)";
        if (settings.Optimizer.ReferenceKappa < 0)
            return $"Optimizer:ReferenceKappa = {settings.Optimizer.ReferenceKappa} must be at least 1, or 0 for Batch:Kappa";
        if (settings.Train.Epochs < 0 || settings.Train.Steps < 0 || (settings.Train.Epochs == 0 && settings.Train.Steps == 0))
            return $"Train:Epochs = {settings.Train.Epochs} and Train:Steps = {settings.Train.Steps}: set a positive number of epochs or steps";
        if (settings.Eval.Every < 0)
            return $"Eval:Every = {settings.Eval.Every} must be 0 (only at the end) or more";
        if (settings.Eval.Samples < 0)
            return $"Eval:Samples = {settings.Eval.Samples} must be 0 (the whole test set) or more";
        if (settings.Eval.BatchSize < 1)
            return $"Eval:BatchSize = {settings.Eval.BatchSize} must be at least 1 (lower it to lower an evaluation's peak memory)";
        if ((ComputePrecision.Problem("Train:Precision", settings.Train.Precision)
             ?? ComputePrecision.Problem("Collectives:SquaresPrecision", settings.Collectives.SquaresPrecision)) is { } precision)
            return precision;
        if (!(settings.Collectives.BucketMiB >= 0) || double.IsInfinity(settings.Collectives.BucketMiB))
            return $"Collectives:BucketMiB = {settings.Collectives.BucketMiB.ToString(CultureInfo.InvariantCulture)} must be 0 (one bucket) or a positive number of MiB";
        if (settings.Train.MaxSkips < 1)
            return $"Train:MaxSkips = {settings.Train.MaxSkips} must be at least 1 (steps in a row with a non-finite value before the job stops)";
        if (settings.Check.Every < 0)
            return $"Check:Every = {settings.Check.Every} must be 0 (at the start and the end only) or more";
        if (settings.Check.TimeoutSeconds < 0)
            return $"Check:TimeoutSeconds = {settings.Check.TimeoutSeconds} must be 0 (no watchdog) or more";
        if (settings.Checkpoint.Every < 0)
            return $"Checkpoint:Every = {settings.Checkpoint.Every} must be 0 (only at the end) or more";
        if (settings.Checkpoint.Keep < 0)
            return $"Checkpoint:Keep = {settings.Checkpoint.Keep} must be 0 (keep all) or more";
        if (settings.Checkpoint.KeepEvery < 0)
            return $"Checkpoint:KeepEvery = {settings.Checkpoint.KeepEvery} must be 0 (no milestones) or more";
        if (AdaptiveProblem(settings) is { } adaptive)
            return adaptive;
        if (!OptimizerNames.TryParse(settings.Optimizer.Name, out OptimizerKind kind))
            return $"Optimizer:Name = '{settings.Optimizer.Name}' is not an optimizer: use one of {OptimizerNames.All}";
        if (!ScalingRules.Contains(settings.Optimizer.Scaling.Trim().ToLowerInvariant()))
            return $"Optimizer:Scaling = '{settings.Optimizer.Scaling}' is not a scaling rule: use one of {string.Join(", ", ScalingRules)}";
        if (kind == OptimizerKind.MicroAdam && settings.Batch.Kappa != 1)
            return $"Optimizer:Name = micro-adam applies one micro-batch per step: set Batch:Kappa = 1, not {settings.Batch.Kappa}";
        if (ScheduleProblem(settings) is { } schedule)
            return schedule;
        int referenceKappa = settings.Optimizer.ReferenceKappa == 0 ? settings.Batch.Kappa : settings.Optimizer.ReferenceKappa;
        return OptimizerProblem(() =>
        {
            if (kind.IsAdam())
                HyperparameterScaling.Scale(Hyperparameters(settings.Optimizer), Scaling(settings.Optimizer.Scaling),
                    kind == OptimizerKind.MicroAdam ? 1 : settings.Batch.Kappa, referenceKappa);
            else
                Hyperparameters(settings.Optimizer).Validate();
        });
    }

    /// <summary>
    /// Optimizer:Schedule and its values, and Optimizer:ClipNorm. A run of Train:Steps has its length in samples
    /// here; one of Train:Epochs only once the data is known, when <see cref="DataParallelTrainer"/> checks the
    /// schedule's horizon again.
    /// </summary>
    private static string? ScheduleProblem(TrainingSettings settings)
    {
        OptimizerSettings optimizer = settings.Optimizer;
        if (!Schedules.Contains(optimizer.Schedule.Trim().ToLowerInvariant()))
            return $"Optimizer:Schedule = '{optimizer.Schedule}' is not a schedule: use one of {string.Join(", ", Schedules)}";
        if (optimizer.ScheduleSamples < 0)
            return $"Optimizer:ScheduleSamples = {optimizer.ScheduleSamples} must be 0 (the run's length) or more";
        if (!(optimizer.ClipNorm >= 0) || double.IsInfinity(optimizer.ClipNorm))
            return $"Optimizer:ClipNorm = {optimizer.ClipNorm.ToString(CultureInfo.InvariantCulture)} must be 0 (off) or a positive finite number";
        long runSamples = settings.Train.Steps > 0 ? settings.Train.Steps * settings.Batch.Kappa * settings.Batch.MicroBatchSize : long.MaxValue;
        return OptimizerProblem(Schedule(optimizer, runSamples).Validate);
    }

    /// <summary>Optimizer:Schedule for a run of <paramref name="runSamples"/> samples, its horizon where Optimizer:ScheduleSamples is 0.</summary>
    public static LearningRateSchedule Schedule(OptimizerSettings optimizer, long runSamples) =>
        new((ScheduleKind)Array.IndexOf(Schedules, optimizer.Schedule.Trim().ToLowerInvariant()), optimizer.WarmupSamples,
            optimizer.ScheduleSamples > 0 ? optimizer.ScheduleSamples : runSamples, optimizer.LrEndFactor, optimizer.StepSamples, optimizer.StepFactor);

    /// <summary>The hyperparameter <paramref name="check"/> refuses, as one line naming its configuration key; null when it passes.</summary>
    public static string? OptimizerProblem(Action check)
    {
        try
        {
            check();
            return null;
        }
        catch (HyperparameterException error)
        {
            return $"{s_optimizerKeys[error.ParamName!]} = {error.Value.ToString(CultureInfo.InvariantCulture)} {error.Reason}";
        }
    }

    private static string? AdaptiveProblem(TrainingSettings settings)
    {
        AdaptiveSettings adaptive = settings.Adaptive;
        if (!SamplingTests.Names.Contains(adaptive.Test.Trim().ToLowerInvariant()))
            return $"Adaptive:Test = '{adaptive.Test}' is not a test: use one of {string.Join(", ", SamplingTests.Names)}";
        foreach ((string key, double value) in new[] { ("Eta", adaptive.Eta), ("Theta", adaptive.Theta), ("Nu", adaptive.Nu) })
            if (!(value > 0) || !double.IsFinite(value))
                return $"Adaptive:{key} = {value.ToString(CultureInfo.InvariantCulture)} must be a positive number";
        if (!(adaptive.Smoothing > 0 && adaptive.Smoothing <= 1))
            return $"Adaptive:Smoothing = {adaptive.Smoothing.ToString(CultureInfo.InvariantCulture)} must be in (0, 1] (the EMA rate of the noise scale)";
        if (adaptive.TestEvery < 1)
            return $"Adaptive:TestEvery = {adaptive.TestEvery} must be at least 1 (steps between tests)";
        if (adaptive.MaxKappa < 0 || (adaptive.MaxKappa > 0 && adaptive.MaxKappa < settings.Batch.Kappa))
            return $"Adaptive:MaxKappa = {adaptive.MaxKappa} must be 0 (one epoch) or at least Batch:Kappa = {settings.Batch.Kappa}";
        if (SamplingTests.Parse(adaptive.Test) == SamplingTest.None)
            return null;
        if (string.Equals(settings.Optimizer.Name.Trim(), "micro-adam", StringComparison.OrdinalIgnoreCase))
            return $"Adaptive:Test = {adaptive.Test} grows κ, but micro-adam takes one micro-batch per step: use bsi-adam, whose trajectory stays Micro-Adam's";
        if (settings.Batch.Kappa < 2)
            return $"Adaptive:Test = {adaptive.Test} measures the spread of the micro-batch gradients: set Batch:Kappa to 2 or more, not {settings.Batch.Kappa}";
        return null;
    }

    /// <summary>
    /// With an adaptive κ that grows to <paramref name="maxKappa"/> and scaled Adam rates, γ' must
    /// stay below 1 all the way; checked once the data (and so the default κ_max) is known.
    /// </summary>
    public static string? ScalableProblem(TrainingSettings settings, int maxKappa)
    {
        OptimizerKind kind = OptimizerNames.Parse(settings.Optimizer.Name);
        if (SamplingTests.Parse(settings.Adaptive.Test) == SamplingTest.None || settings.Adaptive.HoldHyperparameters || !kind.IsAdam())
            return null;
        int referenceKappa = settings.Optimizer.ReferenceKappa == 0 ? settings.Batch.Kappa : settings.Optimizer.ReferenceKappa;
        return OptimizerProblem(() => HyperparameterScaling.Scale(Hyperparameters(settings.Optimizer), Scaling(settings.Optimizer.Scaling), maxKappa, referenceKappa))
            is { } problem
            ? $"κ may grow to {maxKappa} (Adaptive:MaxKappa), where {problem}: lower Adaptive:MaxKappa, give the rates at a larger Optimizer:ReferenceKappa, " +
              "or set Adaptive:HoldHyperparameters=true"
            : null;
    }

    public static ScalingRule Scaling(string name) =>
        Array.IndexOf(ScalingRules, name.Trim().ToLowerInvariant()) is var index and >= 0
            ? (ScalingRule)index
            : throw new ArgumentOutOfRangeException(nameof(name), name, "not a scaling rule (checked by Problem first)");

    public static AdamHyperparameters Hyperparameters(OptimizerSettings optimizer) =>
        new(optimizer.Lr, optimizer.Gamma1, optimizer.Gamma2, optimizer.Eps, optimizer.WeightDecay);
}
