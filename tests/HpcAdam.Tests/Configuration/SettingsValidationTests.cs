using HpcAdam.Trainer.Configuration;

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
    public void ABadValueIsNamed(string argument, string message)
    {
        Assert.That(SettingsLoader.Load<TrainerSettings>(null, [argument]).Problem(), Does.StartWith(message));
    }

    [Test]
    public void ARateThatScalingPushesOutOfRangeIsNamed()
    {
        // γ1 = 0.1 given at κ = 1, run at κ = 16 under the linear rule: 1.6.
        TrainerSettings settings = SettingsLoader.Load<TrainerSettings>(null, ["--Batch:Kappa=16", "--Optimizer:ReferenceKappa=1"]);
        Assert.That(settings.Problem(), Does.StartWith("Optimizer:Gamma1 = 0.1 at reference κ 1 becomes 1.6 at κ 16"));
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
