using System.Text.Json;

namespace HpcAdam.Tests.Training;

/// <summary>
/// Optimizer:Schedule and Optimizer:ClipNorm in real `hpcadam train` jobs on the synthetic set (M = 16):
/// every step's η' is the schedule's closed form over its micro-batches; an adaptive run and a fixed one
/// give the same samples the same η; a resumed run goes on with the same η' and clipping, bit for bit;
/// clip_scale is logged, and below 1 exactly where the unclipped mean gradient is longer than the bound.
/// </summary>
[TestFixture]
public sealed class ScheduleAndClippingTests() : TemporaryDirectoryTest("hpcadam-schedule-")
{
    private const int M = 16;

    /// <summary>
    /// f(x) written out from docs/ALGORITHMS.md, "Learning-rate schedules": warm-up W, horizon H, end factor r,
    /// a drop by γ every S samples.
    /// </summary>
    private static double Factor(string kind, double x, double w, double h, double r, double s = 0, double gamma = 0)
    {
        double warm = w > 0 ? Math.Min(1, x / w) : 1, p = Math.Clamp((x - w) / (h - w), 0, 1);
        return warm * kind switch
        {
            "constant" => 1,
            "cosine" => r + (1 - r) * (1 + Math.Cos(Math.PI * p)) / 2,
            "linear" => 1 - (1 - r) * p,
            "step" => Math.Pow(gamma, Math.Floor(x / s)),
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a schedule"),
        };
    }

    /// <summary>A step's f̄: the mean of f at the centres of its κ micro-batches, from the samples before it.</summary>
    private static double StepFactor(Func<double, double> factor, JsonElement line)
    {
        long kappa = line.GetProperty("kappa").GetInt64(), before = line.GetProperty("samples").GetInt64() - kappa * M;
        return Enumerable.Range(0, (int)kappa).Average(k => factor(before + (k + 0.5) * M));
    }

    private static double?[] Values(RunFiles run, string field) => [.. run.Metrics("step")
        .Select(line => line.GetProperty(field) is { ValueKind: JsonValueKind.Number } value ? value.GetDouble() : (double?)null)];

    [TestCase("constant")]
    [TestCase("cosine")]
    [TestCase("linear")]
    [TestCase("step")]
    public void EveryStepsLrIsTheClosedFormOfTheScheduleOverItsMicroBatches(string kind)
    {
        // 30 steps of B = 64: 1920 samples, the horizon by default; a warm-up of 350 samples ends inside step 6.
        RunFiles run = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, kind), "--Train:Steps=30", $"--Optimizer:Schedule={kind}",
            "--Optimizer:WarmupSamples=350", "--Optimizer:LrEndFactor=0.1", "--Optimizer:StepSamples=640", "--Optimizer:StepFactor=0.5");
        List<JsonElement> steps = run.Metrics("step");
        Assert.That(steps, Has.Count.EqualTo(30));
        Assert.Multiple(() =>
        {
            foreach (JsonElement line in steps)
            {
                double expected = StepFactor(x => Factor(kind, x, w: 350, h: 1920, r: 0.1, s: 640, gamma: 0.5), line);
                // The rates are given at Batch:Kappa, so the scaling rule's factor is 1 and η' = f̄·η.
                Assert.That(line.GetProperty("lr_factor").GetDouble(), Is.EqualTo(expected).Within(1e-10).Percent, $"step {line.GetProperty("step")}");
                Assert.That(line.GetProperty("lr").GetDouble(), Is.EqualTo(1e-3 * expected).Within(1e-10).Percent, $"step {line.GetProperty("step")}");
                Assert.That(line.GetProperty("gamma1").GetDouble(), Is.EqualTo(0.1), "γ1 is not scheduled");
            }
        });
        TestContext.Out.WriteLine($"{kind}: lr_factor {string.Join(" ", Values(run, "lr_factor").Select(f => $"{f:0.###}"))}");
    }

    [Test]
    public void AnAdaptiveRunAndAFixedOneGiveTheSameSamplesTheSameLr()
    {
        // AdaptiveBatchTests' rates, given at κ = 32; κ starts at 2 and grows under the norm test.
        string[] common =
        [
            "--Optimizer:ReferenceKappa=32", "--Optimizer:Lr=0.01", "--Optimizer:Gamma1=0.5", "--Optimizer:Gamma2=0.05",
            "--Optimizer:Schedule=cosine", "--Optimizer:WarmupSamples=500", "--Optimizer:ScheduleSamples=8000", "--Optimizer:LrEndFactor=0.1",
        ];
        RunFiles adaptive = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, "adaptive"),
            [.. common, "--Batch:Kappa=2", "--Adaptive:Test=norm", "--Adaptive:MaxKappa=32", "--Adaptive:Eta=0.5", "--Train:Steps=15"]);
        // κ = 1 ends a step at every sample count the adaptive run ends one at.
        long samples = adaptive.Summary.GetProperty("samples").GetInt64();
        RunFiles fixedKappa = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, "fixed"), [.. common, "--Batch:Kappa=1", $"--Train:Steps={samples / M}"]);

        long[] kappas = [.. adaptive.Metrics("step").Select(line => line.GetProperty("kappa").GetInt64())];
        Assert.That(kappas[^1], Is.GreaterThan(kappas[0]), "κ never grew: the test compares two fixed runs");
        foreach (RunFiles run in new[] { adaptive, fixedKappa })
            foreach (JsonElement line in run.Metrics("step"))
            {
                double expected = StepFactor(x => Factor("cosine", x, w: 500, h: 8000, r: 0.1), line);
                Assert.That(line.GetProperty("lr_factor").GetDouble(), Is.EqualTo(expected).Within(1e-10).Percent);
                Assert.That(line.GetProperty("lr").GetDouble(), Is.EqualTo(0.01 * line.GetProperty("kappa").GetInt64() / 32 * expected).Within(1e-10).Percent);
            }

        // Σ η' up to a sample count is η/κ_ref times the sum of f over every micro-batch before it, whatever the steps were:
        // the distance in the optimizer's time that both runs have travelled along the same data.
        Dictionary<long, double> Travelled(RunFiles run)
        {
            double sum = 0;
            return run.Metrics("step").ToDictionary(line => line.GetProperty("samples").GetInt64(), line => sum += line.GetProperty("lr").GetDouble());
        }
        Dictionary<long, double> adaptiveTime = Travelled(adaptive), fixedTime = Travelled(fixedKappa);
        long[] shared = [.. adaptiveTime.Keys.Intersect(fixedTime.Keys).Order()];
        TestContext.Out.WriteLine($"κ {string.Join(" ", kappas)}; {shared.Length} sample counts where both runs end a step, the last {shared[^1]}: " +
                                  $"Σ η' = {adaptiveTime[shared[^1]]:R} and {fixedTime[shared[^1]]:R}");
        Assert.That(shared, Is.EqualTo(adaptiveTime.Keys.Order()), "the fixed run ends a step wherever the adaptive run does");
        foreach (long at in shared)
            Assert.That(adaptiveTime[at], Is.EqualTo(fixedTime[at]).Within(1e-10).Percent, $"Σ η' after {at} samples");
    }

    [Test]
    public void AResumedRunGoesOnWithTheSameLrAndClippingBitForBit()
    {
        // The horizon is given: with ScheduleSamples = 0 a run of 10 steps would have a schedule of its own.
        string[] settings = ["--Optimizer:Schedule=cosine", "--Optimizer:WarmupSamples=300", "--Optimizer:ScheduleSamples=1280", "--Optimizer:ClipNorm=1.5"];
        string whole = Path.Combine(TestDirectory, "whole"), halves = Path.Combine(TestDirectory, "halves");
        RunFiles uninterrupted = TrainingJobs.Succeed(2, whole, [.. settings, "--Train:Steps=20"]);
        TrainingJobs.Succeed(2, halves, [.. settings, "--Train:Steps=10"]);
        RunFiles resumed = TrainingJobs.Succeed(2, halves, [.. settings, "--Train:Steps=20", "--Resume=latest"]);

        foreach (string file in new[] { "model.safetensors", "optimizer.safetensors" })
            Assert.That(TrainingJobs.Bytes(halves, 20, file), Is.EqualTo(TrainingJobs.Bytes(whole, 20, file)), $"10 + 10 steps: {file}");
        foreach (string field in new[] { "lr", "lr_factor", "clip_scale" })
            Assert.That(Values(resumed, field), Is.EqualTo(Values(uninterrupted, field)), field);
        double?[] scales = Values(uninterrupted, "clip_scale");
        TestContext.Out.WriteLine($"clip_scale {string.Join(" ", scales.Select(s => $"{s:0.###}"))}");
        Assert.That(scales[..10], Has.Some.LessThan(1.0), "the clip bound nowhere before the checkpoint");
        Assert.That(scales[10..], Has.Some.LessThan(1.0), "the clip bound nowhere after the checkpoint");
    }

    [Test]
    public void ClipScaleIsLoggedAndBelowOneWhereTheUnclippedMeanGradientIsLongerThanTheBound()
    {
        RunFiles clipped = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, "clipped"), "--Train:Steps=20", "--Optimizer:ClipNorm=1.2", "--Run:TensorBoard=true");
        RunFiles free = TrainingJobs.Succeed(1, Path.Combine(TestDirectory, "free"), "--Train:Steps=20");

        double[] norms = [.. Values(clipped, "grad_norm").Select(norm => norm!.Value)];
        double[] scales = [.. Values(clipped, "clip_scale").Select(scale => scale!.Value)];
        TestContext.Out.WriteLine($"grad_norm {string.Join(" ", norms.Select(n => $"{n:0.###}"))}\nclip_scale {string.Join(" ", scales.Select(s => $"{s:0.###}"))}");
        Assert.Multiple(() =>
        {
            for (int i = 0; i < norms.Length; i++)
                Assert.That(scales[i], Is.EqualTo(Math.Min(1, 1.2 / norms[i])).Within(1e-12).Percent, $"step {i + 1}");
            Assert.That(scales, Has.Some.LessThan(1.0).And.Some.EqualTo(1.0), "the bound should bind on some steps and not on others");
            Assert.That(Values(free, "clip_scale"), Is.All.Null, "clipping is off by default");
            // grad_norm is of the sums before clipping: the first step, from the same weights, measures the same norm.
            Assert.That(norms[0], Is.EqualTo(Values(free, "grad_norm")[0]));
        });
        TensorBoardEventFile.Contents events = TensorBoardEventFile.Read(Directory.GetFiles(Path.Combine(clipped.Directory, "tensorboard"), "events.out.tfevents.*").Single());
        Assert.That(events.Scalars.Where(scalar => scalar.Tag == "clip_scale").OrderBy(scalar => scalar.Step).Select(scalar => scalar.Value),
            Is.EqualTo(scales.Select(scale => (float)scale)));
        Assert.That(events.Scalars.Where(scalar => scalar.Tag == "lr_factor").Select(scalar => scalar.Value), Is.EqualTo(Enumerable.Repeat(1f, 20)));
    }
}
