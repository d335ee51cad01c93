using System.Text.Json;

namespace HpcAdam.Tests.Training;

/// <summary>
/// The adaptive batch size in real jobs: the same decisions on any number of ranks, changes that
/// survive a resume bit for bit (also on another world size), η' and γ' that follow κ under the
/// linear rule or stay put when held, and AdaGrad and AdaGrad-Norm as AdAdaGrad publishes them.
/// </summary>
[TestFixture]
public sealed class AdaptiveBatchTests() : TemporaryDirectoryTest("hpcadam-adaptive-")
{
    /// <summary>Rates given at κ = 32 so that γ' stays below 1 however far κ grows; κ starts at 2.</summary>
    private static readonly string[] s_adaptive =
    [
        "--Batch:Kappa=2", "--Adaptive:MaxKappa=32", "--Adaptive:Eta=0.5", "--Optimizer:ReferenceKappa=32",
        "--Optimizer:Lr=0.01", "--Optimizer:Gamma1=0.5", "--Optimizer:Gamma2=0.05",
    ];

    private static (long Step, long Old, long New)[] Changes(RunFiles run) =>
        run.Metrics("kappa_change").Select(line => (line.GetProperty("step").GetInt64(), line.GetProperty("old").GetInt64(), line.GetProperty("new").GetInt64())).ToArray();

    private static long[] Kappas(RunFiles run) => run.Metrics("step").Select(line => line.GetProperty("kappa").GetInt64()).ToArray();

    /// <summary>θ and ν strict enough that the augmented test fails on the easy synthetic set.</summary>
    private static readonly string[] s_augmented = ["--Adaptive:Test=augmented", "--Adaptive:Theta=0.1", "--Adaptive:Nu=0.5"];

    [TestCase("norm")]
    [TestCase("augmented")]
    [TestCase("coordinate")]
    public void OneAndTwoRanksTakeTheSameDecisions(string test)
    {
        string[] arguments = [.. s_adaptive, .. test == "augmented" ? s_augmented : [$"--Adaptive:Test={test}"], "--Train:Steps=25"];
        RunFiles one = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, "one"), arguments);
        RunFiles two = TrainingJobs.Succeed(2, Path.Combine(TestDirectory, "two"), arguments);
        (long, long, long)[] changes = Changes(one);
        TestContext.Out.WriteLine($"{test}: {string.Join(", ", changes)}");
        Assert.That(changes, Is.Not.Empty, "κ never grew: the test checks nothing");
        Assert.That(Changes(two), Is.EqualTo(changes));
        Assert.That(Kappas(one), Is.Ordered, "κ only grows");
    }

    /// <summary>
    /// Adaptive:Test=inner-product on 2 ranks (docs/adaptive-batch.md): the first step tests nothing (no direction yet);
    /// every later step asks for Var_k⟨g_k, d⟩/(θ²‖ḡ‖²), which scales as 1/θ² and is at most the norm test's
    /// V/(θ²‖ḡ‖²) (the variance along one unit direction is at most the total); κ grows to the request rounded up.
    /// </summary>
    [Test]
    public void TheInnerProductTestAsksFromTheSecondStepAndKappaGrowsToItsRequestRoundedUp()
    {
        const double Theta = 0.125;
        string[] arguments = [.. s_adaptive, "--Adaptive:Test=inner-product"];
        RunFiles run = TrainingJobs.Succeed(2, Path.Combine(TestDirectory, "run"), [.. arguments, "--Train:Steps=12", FormattableString.Invariant($"--Adaptive:Theta={Theta}")]);
        RunFiles twiceTheta = TrainingJobs.Succeed(2, Path.Combine(TestDirectory, "twice"), [.. arguments, "--Train:Steps=2", FormattableString.Invariant($"--Adaptive:Theta={2 * Theta}")]);

        List<JsonElement> steps = run.Metrics("step");
        double? Field(int index, string name) => steps[index].GetProperty(name) is { ValueKind: JsonValueKind.Number } value ? value.GetDouble() : null;
        Assert.That(Field(0, "inner_product_kappa"), Is.Null, "step 1 has no direction to project on");
        Assert.That(Field(0, "test_kappa"), Is.Null);
        for (int i = 1; i < steps.Count; i++)
        {
            double asked = Field(i, "inner_product_kappa") ?? double.NaN, gradNorm = Field(i, "grad_norm")!.Value;
            Assert.That(Field(i, "test_kappa"), Is.EqualTo(asked), $"step {i + 1}: the test's request is the inner-product κ");
            Assert.That(Field(i, "orthogonality_kappa"), Is.Null, $"step {i + 1}: only the augmented test has an orthogonality part");
            Assert.That(asked, Is.GreaterThan(0).And.LessThanOrEqualTo(Field(i, "grad_var")!.Value / (Theta * Theta * gradNorm * gradNorm) * (1 + 1e-6)), $"step {i + 1}");
        }
        double twiceThetaAsked = twiceTheta.Metrics("step")[1].GetProperty("inner_product_kappa").GetDouble();
        Assert.That(Field(1, "inner_product_kappa")!.Value / twiceThetaAsked, Is.EqualTo(4).Within(1e-9), "step 2 at θ against 2θ");

        List<JsonElement> changes = run.Metrics("kappa_change");
        Assert.That(changes, Is.Not.Empty, "κ never grew: the test checks nothing");
        foreach (JsonElement change in changes)
        {
            int step = change.GetProperty("step").GetInt32();
            double statistic = change.GetProperty("statistic").GetDouble();
            Assert.That(change.GetProperty("test").GetString(), Is.EqualTo("inner-product"));
            Assert.That(statistic, Is.EqualTo(Field(step - 1, "test_kappa")), $"the change after step {step} is that step's request");
            Assert.That(change.GetProperty("old").GetInt64(), Is.EqualTo(Kappas(run)[step - 1]));
            Assert.That(change.GetProperty("new").GetInt64(), Is.EqualTo(Math.Min(32, Math.Ceiling(statistic))));
            if (step < steps.Count)
                Assert.That(Kappas(run)[step], Is.EqualTo(change.GetProperty("new").GetInt64()), $"step {step + 1} runs with the new κ");
        }
    }

    [Test]
    public void AResumedAdaptiveRunContinuesBitIdentically()
    {
        // The augmented test carries a projection direction from step to step: the checkpoint must too.
        string[] arguments = [.. s_adaptive, .. s_augmented];
        string whole = Path.Combine(TestDirectory, "whole"), halves = Path.Combine(TestDirectory, "halves");
        RunFiles uninterrupted = TrainingJobs.Succeed(2, whole, [.. arguments, "--Train:Steps=24"]);
        TrainingJobs.Succeed(2, halves, [.. arguments, "--Train:Steps=12"]);
        RunFiles resumed = TrainingJobs.Succeed(2, halves, [.. arguments, "--Train:Steps=24", "--Resume=latest"]);

        Assert.That(Kappas(uninterrupted)[11], Is.GreaterThan(2), "κ had not grown by the checkpoint: the test checks too little");
        Assert.That(Changes(resumed), Is.EqualTo(Changes(uninterrupted)));
        // Each step's demand depends on the projection direction the checkpoint carried over.
        Assert.That(TestKappas(resumed), Is.EqualTo(TestKappas(uninterrupted)));
        Assert.That(TestKappas(uninterrupted)[12..], Is.All.Not.Null);
        // The micro-batch gradients' projections on the direction reached the all-reduce.
        Assert.That(uninterrupted.Metrics("step").Skip(1).Select(line => line.GetProperty("inner_product_kappa").GetDouble()), Is.All.GreaterThan(0));
        foreach (string file in new[] { "model.safetensors", "optimizer.safetensors", "direction.safetensors" })
            Assert.That(TrainingJobs.Bytes(halves, 24, file), Is.EqualTo(TrainingJobs.Bytes(whole, 24, file)), file);
        // The smoothed noise scale's two EMAs crossed the resume: a fresh start of them would give other values from step 13 on.
        double?[] NoiseScales(RunFiles run) => [.. run.Metrics("step").Select(line =>
            line.GetProperty("noise_scale").ValueKind == System.Text.Json.JsonValueKind.Number ? line.GetProperty("noise_scale").GetDouble() : (double?)null)];
        Assert.That(NoiseScales(resumed), Is.EqualTo(NoiseScales(uninterrupted)));
        Assert.That(NoiseScales(uninterrupted)[12..], Is.All.Not.Null);
    }

    [Test]
    public void KappaSurvivesAResumeOnAnotherWorldSize()
    {
        string run = Path.Combine(TestDirectory, "run");
        string[] arguments = [.. s_adaptive, "--Adaptive:Test=norm"];
        long[] before = Kappas(TrainingJobs.Succeed(2, run, [.. arguments, "--Train:Steps=10"]));
        long[] after = Kappas(TrainingJobs.Succeed(1, run, [.. arguments, "--Train:Steps=20", "--Resume=latest"]));
        Assert.That(after, Has.Length.EqualTo(20));
        Assert.That(after[..10], Is.EqualTo(before));
        Assert.That(after[10], Is.GreaterThanOrEqualTo(before[^1]).And.GreaterThan(2), "the resumed run went back to Batch:Kappa");
        Assert.That(after, Is.Ordered);
    }

    [Test]
    public void UnderTheLinearRuleLrAndGammaFollowKappaAndHoldingKeepsThem()
    {
        RunFiles linear = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, "linear"), [.. s_adaptive, "--Adaptive:Test=norm", "--Train:Steps=15"]);
        RunFiles held = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, "held"),
            [.. s_adaptive, "--Adaptive:Test=norm", "--Train:Steps=15", "--Adaptive:HoldHyperparameters=true"]);
        foreach (var line in linear.Metrics("step"))
        {
            double scale = line.GetProperty("kappa").GetInt64() / 32.0;
            Assert.That(line.GetProperty("lr").GetDouble(), Is.EqualTo(0.01 * scale).Within(1e-9));
            Assert.That(line.GetProperty("gamma1").GetDouble(), Is.EqualTo(0.5 * scale).Within(1e-9));
        }
        Assert.That(held.Metrics("step").Select(line => line.GetProperty("lr").GetDouble()).Distinct(), Is.EqualTo(new[] { 0.01 * 2 / 32 }));
        Assert.That(Kappas(held).Distinct().Count(), Is.GreaterThan(1), "κ never grew");
    }

    private static double?[] TestKappas(RunFiles run) => run.Metrics("step")
        .Select(line => line.GetProperty("test_kappa") is { ValueKind: System.Text.Json.JsonValueKind.Number } value ? value.GetDouble() : (double?)null).ToArray();

    [TestCase("adagrad", 0.05)]
    [TestCase("adagrad-norm", 2.0)]
    public void AdAdaGradsNormTestGrowsKappaWhileTheLearningRateIsHeldAndTheLossHalves(string optimizer, double lr)
    {
        // AdAdaGrad's setting: AdaGrad(-Norm) with the norm test and a learning rate held while κ grows.
        RunFiles run = TrainingJobs.Succeed(2, Path.Combine(TestDirectory, optimizer),
            ["--Batch:Kappa=2", $"--Optimizer:Name={optimizer}", FormattableString.Invariant($"--Optimizer:Lr={lr}"), "--Adaptive:Test=norm", "--Adaptive:HoldHyperparameters=true",
             "--Train:Epochs=20"]);
        long[] kappas = Kappas(run);
        double[] losses = run.Metrics("step").Select(line => line.GetProperty("loss").GetDouble()).ToArray();
        TestContext.Out.WriteLine($"{optimizer}: {kappas.Length} steps, κ {kappas[0]} → {kappas[^1]}, loss {losses[0]:F3} → {losses[^1]:F3}, " +
                                  $"accuracy {run.Summary.GetProperty("test_accuracy").GetDouble():P1}");
        Assert.That(kappas[^1], Is.GreaterThan(kappas[0]));
        Assert.That(run.Metrics("step").Select(line => line.GetProperty("lr").GetDouble()).Distinct(), Is.EqualTo(new[] { lr }), "η held at its κ = 2 value");
        Assert.That(losses[^1], Is.LessThan(losses[0] / 2));
        // The run ends when the 20 epochs' 20·312 micro-batches have no room for another step.
        long microBatches = run.Summary.GetProperty("samples").GetInt64() / 16;
        Assert.That(microBatches, Is.LessThanOrEqualTo(20 * 312));
        Assert.That(microBatches + run.Summary.GetProperty("final_kappa").GetInt64(), Is.GreaterThan(20 * 312));
    }
}
