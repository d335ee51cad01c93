using System.Text.Json;
using HpcAdam.Trainer.Bench;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Models;

namespace HpcAdam.Tests;

/// <summary>
/// `hpcadam bench scaling` as a real process that launches real `mpirun` jobs of `hpcadam train`: the
/// table, the JSON and the figure of a measurement; the projection; and the one-line refusals.
/// Runs are a few steps of small micro-batches: these tests check what is written, not how fast.
/// </summary>
public sealed class ScalingBenchTests() : TemporaryDirectoryTest("hpcadam-bench-scaling-")
{
    private static readonly byte[] s_pngSignature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    [TestCase("mlp", "1,2,4", "strong,weak")]
    [TestCase("cnn", "1,2", "weak")]
    public void EveryPointIsMeasuredWithTheModelBesideIt(string model, string ranks, string modes)
    {
        string json = Path.Combine(TestDirectory, "scaling.json"), png = Path.Combine(TestDirectory, "scaling.png");
        ProcessOutcome outcome = ChildProcess.RunAlone(
            ["bench", "scaling", "--model", model, "--ranks", ranks, "--modes", modes, "--micro-batch", "8", "--steps", "4", "--repeats", "1",
             "--dir", TestDirectory, "--json", json, "--png", png]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        int[] counts = ranks.Split(',').Select(int.Parse).ToArray();
        string[] modeNames = modes.Split(',');
        foreach (string mode in modeNames)
            foreach (int count in counts)
                Assert.That(outcome.Stdout, Does.Match($@"\n  {mode} +{count} +\d+ +\d+ +\d+\.\d\d .* \| +\d+\.\d\d +\d\.\d{{3}} +[+-]\d+\.\d%"), $"{mode} {count}");
        Assert.That(outcome.Stdout, Does.Match(@"α = \d+\.\d\d µs, β = \d+\.\d{3} GB/s \(fitted to hpcadam bench allreduce at 2 ranks, run now\)"));
        Assert.That(outcome.Stdout, Does.Contain("# model error beyond 1 rank: mean |error|"));
        Assert.That(Directory.GetFileSystemEntries(TestDirectory).Select(Path.GetFileName), Is.EquivalentTo(new[] { "scaling.json", "scaling.png" }),
            "the runs' folders are gone");
        Assert.That(File.ReadAllBytes(png).Take(s_pngSignature.Length), Is.EqualTo(s_pngSignature));

        JsonElement result = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(result.GetProperty("kind").GetString(), Is.EqualTo("measured"));
        Assert.That(result.GetProperty("threads_per_rank").GetInt32(), Is.EqualTo(1), "the test runs children on one thread");
        (long parameters, long buffers) = ParameterAndBufferCounts(model);
        Assert.That(result.GetProperty("parameters").GetInt64(), Is.EqualTo(parameters));
        JsonElement[] points = result.GetProperty("points").EnumerateArray().ToArray();
        Assert.That(points.Select(point => (point.GetProperty("mode").GetString(), point.GetProperty("ranks").GetInt32())),
            Is.EqualTo(modeNames.SelectMany(mode => counts.Select(count => ((string?)mode, count)))), "one point per mode and rank count, in order");
        foreach (JsonElement point in points)
        {
            int pointRanks = point.GetProperty("ranks").GetInt32(), kappa = point.GetProperty("kappa").GetInt32();
            Assert.That(kappa, Is.EqualTo(point.GetProperty("mode").GetString() == "strong" ? counts[^1] : pointRanks));
            Assert.That(point.GetProperty("ms").EnumerateObject().Select(phase => phase.Name), Is.EqualTo(new[] { "compute", "comm", "optim", "stats", "other", "total" }));
            Assert.That(point.GetProperty("samples_per_s").GetDouble(), Is.EqualTo(1000.0 * kappa * 8 / point.GetProperty("ms").GetProperty("total").GetDouble()).Within(1e-6).Percent);
            // [S1 | S2 | buffers] in float32, and a few scalars.
            long bytes = point.GetProperty("allreduce_bytes_per_step").GetInt64();
            Assert.That(bytes, Is.InRange(4 * (2 * parameters + buffers), 4 * (2 * parameters + buffers) + 1024));
            if (pointRanks == 1)
            {
                Assert.That(point.GetProperty("efficiency").GetDouble(), Is.EqualTo(1));
                Assert.That(point.GetProperty("predicted").GetProperty("efficiency").GetDouble(), Is.EqualTo(1).Within(1e-12));
            }
            else
                Assert.That(point.GetProperty("efficiency").GetDouble(), Is.Positive);
        }
        JsonElement network = result.GetProperty("network");
        Assert.That(network.GetProperty("alpha_us").GetDouble(), Is.Positive);
        Assert.That(network.GetProperty("beta_gbs").GetDouble(), Is.Positive);

        if (model == "mlp")
            AMeasurementCalibratesAProjection(json, parameters);
    }

    /// <summary>--predict from the measured file: no run, every rank count × mode × squares, bfloat16 squares 2 bytes a parameter lighter.</summary>
    private void AMeasurementCalibratesAProjection(string measured, long parameters)
    {
        string json = Path.Combine(TestDirectory, "projection.json"), png = Path.Combine(TestDirectory, "projection.png");
        ProcessOutcome outcome = ChildProcess.RunAlone(
            ["bench", "scaling", "--predict", "--calibration", measured, "--preset", "ib-400", "--ranks", "8,64,1024", "--json", json, "--png", png]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("projected by the cost model, not measured"));
        Assert.That(outcome.Stdout, Does.Contain("network ib-400: α = 2.00 µs, β = 50.000 GB/s"));
        Assert.That(File.ReadAllBytes(png).Take(s_pngSignature.Length), Is.EqualTo(s_pngSignature));
        JsonElement result = JsonDocument.Parse(File.ReadAllText(json)).RootElement;
        Assert.That(result.GetProperty("kind").GetString(), Is.EqualTo("predicted"));
        JsonElement[] points = result.GetProperty("points").EnumerateArray().ToArray();
        Assert.That(points.Select(point => (point.GetProperty("squares").GetString(), point.GetProperty("mode").GetString(), point.GetProperty("ranks").GetInt32())),
            Is.EqualTo(from squares in new[] { "float32", "bfloat16" } from mode in new[] { "strong", "weak" } from ranks in new[] { 8, 64, 1024 }
                select ((string?)squares, (string?)mode, ranks)));
        double float32Bytes = points[0].GetProperty("allreduce_bytes_per_step").GetDouble();
        Assert.That(points[^1].GetProperty("allreduce_bytes_per_step").GetDouble(), Is.EqualTo(float32Bytes - 2 * parameters));
        Assert.That(points.Select(point => point.GetProperty("efficiency").GetDouble()), Is.All.InRange(0.0, 1.0));
    }

    [Test]
    public void AProjectionWithoutAFileCalibratesOnOneRankFirst()
    {
        ProcessOutcome outcome = ChildProcess.RunAlone(
            ["bench", "scaling", "--predict", "--preset", "nvlink4", "--model", "mlp", "--ranks", "2,8", "--modes", "weak", "--squares", "bfloat16",
             "--micro-batch", "8", "--steps", "4", "--repeats", "1", "--dir", TestDirectory]);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("# weak scaling, 1 rank(s), κ = 1, round 1 of 1:"));
        Assert.That(outcome.Stdout, Does.Contain("# one rank's step (a run now): compute "));
        Assert.That(outcome.Stdout, Does.Match(@"\n  weak +8 +8  bfloat16 +\d+\.\d\d"));
        Assert.That(Directory.GetFileSystemEntries(TestDirectory), Is.Empty);
    }

    [TestCase("--model", "resnet50")]
    [TestCase("--data", "imagenet")]
    [TestCase("--ranks", "2,4")]
    [TestCase("--ranks", "1,0,2")]
    [TestCase("--ranks", "1,2,2")]
    [TestCase("--modes", "diagonal")]
    [TestCase("--kappa", "2")]
    [TestCase("--steps", "1")]
    [TestCase("--preset", "ethernet")]
    [TestCase("--squares", "bfloat16")]
    [TestCase("--predict", null)]
    public void BadArgumentsAreOneLineBeforeAnythingRuns(string option, string? value)
    {
        string json = Path.Combine(TestDirectory, "scaling.json");
        ProcessOutcome outcome = ChildProcess.RunAlone(["bench", "scaling", option, .. value is null ? [] : new[] { value }, "--json", json]);

        outcome.AssertOneLineUsageError(option);
        Assert.That(outcome.Stdout, Is.Empty, "nothing may run with a bad argument");
        Assert.That(File.Exists(json), Is.False);
    }

    [Test]
    public void UnderALauncherItRefusesToStartRanksOfItsOwn()
    {
        ProcessOutcome outcome = ChildProcess.MpiRun(1, ChildProcess.Hpcadam, ["bench", "scaling"]);

        // mpirun adds its own lines about a rank's exit code after the command's one.
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        Assert.That(outcome.Stderr, Does.StartWith("hpcadam bench scaling: starts its own ranks: run it as one process, not under mpirun or srun\n"));
        Assert.That(outcome.Stdout, Is.Empty);
    }

    private static (long Parameters, long Buffers) ParameterAndBufferCounts(string model)
    {
        using var module = ModelFactory.Create(new ModelSettings { Name = model }, new ImageShape(1, 28, 28), classes: 10);
        return (module.parameters().Sum(parameter => parameter.numel()), module.buffers().Sum(buffer => buffer.numel()));
    }
}
