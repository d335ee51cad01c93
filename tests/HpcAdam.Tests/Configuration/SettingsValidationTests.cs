using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Training;

namespace HpcAdam.Tests.Configuration;

/// <summary>Every value is checked before a job starts, with a message naming the key.</summary>
public sealed class SettingsValidationTests
{
    [Test]
    public void TheDefaultsCanRun()
    {
        Assert.That(new TrainerSettings().Problem(), Is.Null);
    }

    [TestCase("--Model:Name=transformer", "Model:Name = 'transformer' is not a model")]
    [TestCase("--Model:Hidden=256,,128", "Model:Hidden = '256,,128' must be comma-separated positive widths")]
    [TestCase("--Data:Name=imagenet", "Data:Name = 'imagenet' is not a data set")]
    [TestCase("--Batch:MicroBatchSize=0", "Batch:MicroBatchSize = 0 must be at least 1")]
    [TestCase("--Batch:Kappa=0", "Batch:Kappa = 0 must be at least 1")]
    [TestCase("--Train:Epochs=0", "Train:Epochs = 0 and Train:Steps = 0: set a positive number")]
    [TestCase("--Eval:Every=-1", "Eval:Every = -1 must be 0")]
    [TestCase("--Optimizer:Name=sgd", "Optimizer:Name = 'sgd' is not an optimizer")]
    [TestCase("--Optimizer:Gamma2=1.5", "Optimizer:Gamma2 = 1.5 must lie in (0, 1)")]
    [TestCase("--Optimizer:Eps=-1", "Optimizer:Eps = -1 must be a finite number")]
    [TestCase("--Optimizer:WeightDecay=2000", "Optimizer:WeightDecay = 2000 times the learning rate 0.001 must stay below 1")]
    [TestCase("--Eval:Samples=-5", "Eval:Samples = -5 must be 0")]
    [TestCase("--Checkpoint:Keep=-1", "Checkpoint:Keep = -1 must be 0 (keep all) or more")]
    [TestCase("--Checkpoint:KeepEvery=-100", "Checkpoint:KeepEvery = -100 must be 0 (no milestones) or more")]
    [TestCase("--Optimizer:Scaling=cubic", "Optimizer:Scaling = 'cubic' is not a scaling rule")]
    [TestCase("--Optimizer:Lr=-1", "Optimizer:Lr = -1 must be a positive finite number")]
    [TestCase("--Optimizer:Schedule=exponential", "Optimizer:Schedule = 'exponential' is not a schedule: use one of constant, cosine, linear, step")]
    [TestCase("--Optimizer:WarmupSamples=-1", "Optimizer:WarmupSamples = -1 must be 0 (no warm-up) or more")]
    [TestCase("--Optimizer:ScheduleSamples=-1", "Optimizer:ScheduleSamples = -1 must be 0 (the run's length) or more")]
    [TestCase("--Optimizer:LrEndFactor=1.5", "Optimizer:LrEndFactor = 1.5 must lie in [0, 1]")]
    [TestCase("--Optimizer:Schedule=step", "Optimizer:StepSamples = 0 must be at least 1 with the step schedule")]
    [TestCase("--Optimizer:Schedule=step --Optimizer:StepSamples=1000 --Optimizer:StepFactor=0", "Optimizer:StepFactor = 0 must lie in (0, 1]")]
    [TestCase("--Optimizer:Schedule=cosine --Optimizer:WarmupSamples=5000 --Optimizer:ScheduleSamples=4000",
        "Optimizer:ScheduleSamples = 4000 must be above the warm-up's 5000 samples")]
    [TestCase("--Optimizer:Schedule=linear --Optimizer:WarmupSamples=2000 --Train:Steps=10",
        "Optimizer:ScheduleSamples = 1000 must be above the warm-up's 2000 samples")]
    [TestCase("--Optimizer:ClipNorm=-1", "Optimizer:ClipNorm = -1 must be 0 (off) or a positive finite number")]
    public void ABadValueIsNamed(string arguments, string message)
    {
        Assert.That(SettingsLoader.Load<TrainerSettings>(null, arguments.Split(' ')).Problem(), Does.StartWith(message));
    }

    [Test]
    public void ARateThatScalingPushesOutOfRangeIsNamed()
    {
        // γ1 = 0.1 given at κ = 1, run at κ = 16 under the linear rule: 1.6.
        TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(null, ["--Batch:Kappa=16", "--Optimizer:ReferenceKappa=1"]);
        Assert.That(settings.Problem(), Does.StartWith("Optimizer:Gamma1 = 0.1 at reference κ 1 becomes 1.6 at κ 16"));
    }

    [Test]
    public void AScheduleLongerThanAnEpochRunIsRefusedOnceTheDataIsKnown()
    {
        // One epoch of the 5000 synthetic images is 312 micro-batches of 16, 4992 samples: shorter than the warm-up.
        TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(null,
            ["--Data:Name=synthetic", "--Batch:MicroBatchSize=16", "--Optimizer:Schedule=cosine", "--Optimizer:WarmupSamples=6000"]);
        Assert.That(settings.Problem(), Is.Null, "the run's length in samples is not known before the data");
        var error = Assert.Throws<SettingsException>(() => TrainCommand.Prepare(settings).Dispose());
        Assert.That(error!.Message, Does.StartWith("Optimizer:ScheduleSamples = 4992 must be above the warm-up's 6000 samples"));
    }

    [Test]
    public void AnAdaptiveKappaThatPushesARateOutOfRangeIsNamedWithTheWaysOut()
    {
        TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(null, ["--Adaptive:Test=norm", "--Batch:Kappa=2"]);
        Assert.That(SettingsValidation.ScalableProblem(settings, maxKappa: 64),
            Does.StartWith("κ may grow to 64 (Adaptive:MaxKappa), where Optimizer:Gamma1 = 0.1 at reference κ 2 becomes 3.2 at κ 64")
                .And.EndWith("or set Adaptive:HoldHyperparameters=true"));
    }
}
