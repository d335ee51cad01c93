using System.Globalization;
using System.Text.Json;
using HpcAdam.Trainer.Data;

namespace HpcAdam.Tests.Training;

/// <summary>`hpcadam train` as users run it: real MNIST, real mpirun ranks, the files it leaves behind.</summary>
[TestFixture]
public sealed class TrainingRunTests() : TemporaryDirectoryTest("hpcadam-train-")
{
    private static readonly string s_dataDir = Path.Combine(ChildProcess.RepoRoot, "data");
    private static readonly string[] s_stepFields =
        ["step", "samples", "kappa", "batch_size", "lr", "lr_factor", "gamma1", "gamma2", "loss", "grad_norm", "clip_scale", "grad_var", "grad_sq_norm", "trace_sigma",
         "noise_scale", "noise_scale_raw", "test_kappa", "skipped", "compute_ms", "comm_ms", "optim_ms", "stats_ms"];

    [SetUp]
    public void RequireMnist()
    {
        if (!Directory.Exists(Path.Combine(s_dataDir, "mnist")))
            Assert.Fail($"{s_dataDir}/mnist is missing: run scripts/fetch-data.sh mnist (scripts/test.sh does)");
    }

    /// <summary>The scalars that ride in the step's all-reduce on 2 ranks: loss sum, non-finite flag, 6 host counters, one memory slot per rank.</summary>
    private const int StepScalarsOn2Ranks = 2 + 6 + 2;

    [Test]
    public void TheExampleMlpReaches97PercentOnMnistIn2EpochsOn2Ranks()
    {
        RunFiles run = Train(ranks: 2, "run", "--config", Path.Combine(ChildProcess.RepoRoot, "examples", "mnist-mlp.json"));
        JsonElement summary = run.Summary;
        Assert.That(summary.GetProperty("world_size").GetInt32(), Is.EqualTo(2));
        Assert.That(summary.GetProperty("steps").GetInt64(), Is.EqualTo(2 * (60000 / 32) / 4));
        Assert.That(summary.GetProperty("test_accuracy").GetDouble(), Is.GreaterThanOrEqualTo(0.97));
        // [S1 | scalars | S2] in float32, as the communicator counted it: 8 bytes per parameter for S1 and S2.
        long parameters = run.Metrics("start").Single().GetProperty("parameters").GetInt64();
        Assert.That(summary.GetProperty("allreduce_bytes_per_step").GetInt64(), Is.EqualTo(8 * parameters + 4 * StepScalarsOn2Ranks));
    }

    /// <summary>
    /// The same example with S2 sent as bfloat16 (Collectives:SquaresPrecision): it reaches what float32
    /// reaches, and the communicator counts 6 bytes per parameter for S1 and S2, a quarter fewer than 8.
    /// </summary>
    [Test]
    public void TheExampleMlpWithSquaresInBfloat16AlsoReaches97PercentOnAQuarterFewerBytes()
    {
        RunFiles run = Train(ranks: 2, "run", "--config", Path.Combine(ChildProcess.RepoRoot, "examples", "mnist-mlp.json"), "--Collectives:SquaresPrecision=bfloat16");
        JsonElement summary = run.Summary;
        Assert.That(summary.GetProperty("test_accuracy").GetDouble(), Is.GreaterThanOrEqualTo(0.97));
        Assert.That(summary.GetProperty("skipped").GetInt64(), Is.Zero);
        long parameters = run.Metrics("start").Single().GetProperty("parameters").GetInt64();
        Assert.That(parameters, Is.EqualTo(784 * 256 + 256 + 256 * 10 + 10));
        long squaresBytes = summary.GetProperty("allreduce_bytes_per_step").GetInt64() - 4 * StepScalarsOn2Ranks;
        Assert.That(squaresBytes, Is.EqualTo(6 * parameters));
        Assert.That(squaresBytes / (8.0 * parameters), Is.EqualTo(0.75));
    }

    /// <summary>
    /// The same example with forward and backward in bfloat16 (Train:Precision): the optimizer's float32
    /// master weights reach what float32 reaches, and the checkpoint holds them, not their bfloat16 roundings.
    /// </summary>
    [Test]
    public void TheExampleMlpInBfloat16AlsoReaches97PercentOnMnistOn2Ranks()
    {
        RunFiles run = Train(ranks: 2, "run", "--config", Path.Combine(ChildProcess.RepoRoot, "examples", "mnist-mlp.json"), "--Train:Precision=bfloat16");
        Assert.That(run.Summary.GetProperty("test_accuracy").GetDouble(), Is.GreaterThanOrEqualTo(0.97));
        Dictionary<string, TorchSharp.torch.Tensor> weights = run.Tensors($"checkpoints/{2 * (60000 / 32) / 4:D8}/model.safetensors");
        Assert.That(weights.Values.Select(tensor => tensor.dtype), Has.All.EqualTo(TorchSharp.torch.ScalarType.Float32));
        using TorchSharp.torch.Tensor hidden = weights["hidden0.weight"];
        using TorchSharp.torch.Tensor roundTrip = hidden.to(TorchSharp.torch.ScalarType.BFloat16).to(TorchSharp.torch.ScalarType.Float32);
        Assert.That(hidden.eq(roundTrip).all().item<bool>(), Is.False, "the saved weights are bfloat16 values: the master weights were lost");
    }

    [Test]
    public void TheAdaptiveExampleReaches96PercentInFewerStepsThanAnyFixedSmallBatch()
    {
        // BSI-Adam with the norm test (η_n = 0.1), κ from 2 to 64, on 2 ranks; then the same budget with
        // B = 64, 128 and 256 fixed, each stopped after as many steps as the adaptive run needed for 96%.
        string config = Path.Combine(ChildProcess.RepoRoot, "examples", "mnist-adaptive.json");
        RunFiles adaptive = Train(ranks: 2, "adaptive", "--config", config);
        Assert.That(adaptive.Summary.GetProperty("test_accuracy").GetDouble(), Is.GreaterThanOrEqualTo(0.96));
        JsonElement first = adaptive.Metrics("eval").First(line => line.GetProperty("test_accuracy").GetDouble() >= 0.96);
        long steps = first.GetProperty("step").GetInt64();
        var report = new List<string> { $"adaptive: 96% after {steps} steps, {first.GetProperty("samples").GetInt64()} samples; " +
                                        $"{adaptive.Summary.GetProperty("steps").GetInt64()} steps in all, final κ {adaptive.Summary.GetProperty("final_kappa").GetInt64()}" };
        foreach (int kappa in new[] { 2, 4, 8 })
        {
            RunFiles fixedBatch = Train(ranks: 1, $"fixed-{kappa}", "--config", config, "--Adaptive:Test=none", $"--Batch:Kappa={kappa}", $"--Train:Steps={steps}", "--Eval:Every=0");
            double accuracy = fixedBatch.Summary.GetProperty("test_accuracy").GetDouble();
            report.Add($"fixed B = {32 * kappa}: {100 * accuracy:F2}% after {steps} steps");
            Assert.That(accuracy, Is.LessThan(0.96), $"B = {32 * kappa} reached 96% in {steps} steps too");
        }
        TestContext.Out.WriteLine(string.Join("\n", report));
    }

    [Test]
    public void OneRankAndTwoRanksTrainTheSameWeightsOnTheSameSamples()
    {
        string[] thirtySteps = ["--Train:Steps=30", "--Batch:MicroBatchSize=32", "--Batch:Kappa=4", "--Trace:Samples=true"];
        RunFiles one = Train(ranks: 1, "one", thirtySteps), two = Train(ranks: 2, "two", thirtySteps);

        Assert.That(RunFiles.MaxRelativeDifference(one.Tensors("initial.safetensors"), two.Tensors("initial.safetensors")), Is.EqualTo(0));
        double difference = RunFiles.MaxRelativeDifference(
            one.Tensors("checkpoints/00000030/model.safetensors"), two.Tensors("checkpoints/00000030/model.safetensors"));
        // The two differ only in the order S1 and S2 add the micro-batches: 6.2e-8 here, the figure the README quotes; ten times that bounds it.
        Assert.That(difference, Is.LessThan(6e-7), "max over parameters of ‖w₁ − w₂‖/‖w₁‖ after 30 steps");
        TestContext.Out.WriteLine($"1 rank against 2 ranks after 30 steps: max relative weight difference {difference:E2}");

        string[] samples = File.ReadAllLines(Path.Combine(one.Directory, "samples.jsonl"));
        Assert.That(File.ReadAllLines(Path.Combine(two.Directory, "samples.jsonl")), Is.EqualTo(samples));
        var stream = new MicroBatchStream(60000, 32, seed: 0);
        for (int step = 1; step <= 30; step++)
        {
            JsonElement line = JsonDocument.Parse(samples[step - 1]).RootElement;
            Assert.That(line.GetProperty("step").GetInt64(), Is.EqualTo(step));
            long[][] microBatches = line.GetProperty("micro_batches").EnumerateArray().Select(batch => batch.EnumerateArray().Select(i => i.GetInt64()).ToArray()).ToArray();
            Assert.That(microBatches, Is.EqualTo(Enumerable.Range(0, 4).Select(k => stream.Indices((step - 1) * 4 + k)).ToArray()));
        }
    }

    [Test]
    public void TheTestSetSplitAcrossThreeRanksGivesOneRanksEvaluation()
    {
        // 997 test samples (a prime) split 332/332/333, against one rank's 997; the weights differ only by
        // rounding (κ = 3 micro-batches summed in another order), where a sample lost or counted twice
        // would move the mean loss by about 1e-3.
        string[] run = ["--Train:Steps=5", "--Batch:MicroBatchSize=32", "--Batch:Kappa=3", "--Eval:Samples=997"];
        JsonElement one = Train(ranks: 1, "one", run).Metrics("eval").Single(), three = Train(ranks: 3, "three", run).Metrics("eval").Single();
        TestContext.Out.WriteLine($"test loss {one.GetProperty("test_loss").GetDouble():R} on 1 rank, {three.GetProperty("test_loss").GetDouble():R} on 3");
        Assert.That(three.GetProperty("test_loss").GetDouble(), Is.EqualTo(one.GetProperty("test_loss").GetDouble()).Within(1e-3).Percent);
        Assert.That(three.GetProperty("test_accuracy").GetDouble(), Is.EqualTo(one.GetProperty("test_accuracy").GetDouble()).Within(1.0 / 997));
    }

    [Test]
    public void MetricsEvaluationsCheckpointsAndSummaryAreWrittenWhereUsersLook()
    {
        RunFiles run = Train(ranks: 2, "run", "--Train:Steps=25", "--Eval:Every=10", "--Checkpoint:Every=10",
            "--Batch:MicroBatchSize=16", "--Batch:Kappa=2", "--Optimizer:ReferenceKappa=1", "--Optimizer:Lr=0.001", "--Run:TensorBoard=true");

        List<JsonElement> steps = run.Metrics("step");
        Assert.That(steps.Select(line => line.GetProperty("step").GetInt64()), Is.EqualTo(Enumerable.Range(1, 25).Select(i => (long)i)));
        Assert.That(steps[0].EnumerateObject().Select(field => field.Name), Is.SupersetOf(s_stepFields));
        JsonElement last = steps[^1];
        Assert.Multiple(() =>
        {
            Assert.That(last.GetProperty("samples").GetInt64(), Is.EqualTo(25 * 32));
            Assert.That(last.GetProperty("batch_size").GetInt64(), Is.EqualTo(32));
            // Linear scaling from the reference κ = 1 to κ = 2: η, γ1, γ2 all double.
            Assert.That(last.GetProperty("lr").GetDouble(), Is.EqualTo(0.002).Within(1e-12));
            Assert.That(last.GetProperty("gamma1").GetDouble(), Is.EqualTo(0.2).Within(1e-12));
            Assert.That(last.GetProperty("gamma2").GetDouble(), Is.EqualTo(0.002).Within(1e-12));
            Assert.That(last.GetProperty("loss").GetDouble(), Is.LessThan(steps[0].GetProperty("loss").GetDouble()));
            Assert.That(last.GetProperty("skipped").GetInt64(), Is.Zero);
        });
        Assert.That(run.Metrics("eval").Select(line => line.GetProperty("step").GetInt64()), Is.EqualTo(new long[] { 10, 20, 25 }));
        Assert.That(run.Checkpoints(), Is.EqualTo(new[] { "00000010", "00000020", "00000025" }));

        JsonElement state = JsonDocument.Parse(File.ReadAllText(Path.Combine(run.Directory, "checkpoints/00000025/state.json"))).RootElement;
        Assert.That(state.GetProperty("step").GetInt64(), Is.EqualTo(25));
        Assert.That(run.Tensors("checkpoints/00000025/model.safetensors").Keys,
            Is.EquivalentTo(new[] { "hidden0.weight", "hidden0.bias", "out.weight", "out.bias" }));
        Assert.That(run.Tensors("checkpoints/00000025/optimizer.safetensors").Keys, Does.Contain("m.hidden0.weight").And.Contain("v.out.bias"));

        JsonElement summary = run.Summary;
        foreach (string field in new[] { "steps", "samples", "world_size", "test_loss", "test_accuracy", "throughput_samples_per_s", "wall_s" })
            Assert.That(summary.TryGetProperty(field, out _), field);
        Assert.That(summary.GetProperty("test_accuracy").GetDouble(), Is.EqualTo(run.Metrics("eval")[^1].GetProperty("test_accuracy").GetDouble()));
        Assert.That(File.ReadAllText(Path.Combine(run.Directory, "config.json")), Does.Contain("\"Kappa\": 2"));
        // Each rank's peak resident memory: about the 0.49 GiB docs/training.md quotes for the MLP, within a factor of two.
        Assert.That(summary.GetProperty("peak_rss_mib").EnumerateArray().Select(rank => rank.GetDouble()),
            Has.Exactly(2).Items.And.All.InRange(250.0, 1000.0));
        Assert.That(steps.Select(line => line.GetProperty("peak_rss_mib").GetDouble()), Is.Ordered.And.All.GreaterThan(50.0));

        // TensorBoard's event file holds the same numbers as metrics.jsonl, as float32.
        string eventFile = Directory.GetFiles(Path.Combine(run.Directory, "tensorboard"), "events.out.tfevents.*").Single();
        TensorBoardEventFile.Contents events = TensorBoardEventFile.Read(eventFile);
        Assert.That(events.FileVersion, Is.EqualTo("brain.Event:2"));
        float[] Scalars(string tag) => [.. events.Scalars.Where(scalar => scalar.Tag == tag).OrderBy(scalar => scalar.Step).Select(scalar => scalar.Value)];
        Assert.That(Scalars("loss"), Is.EqualTo(steps.Select(line => (float)line.GetProperty("loss").GetDouble())));
        Assert.That(Scalars("lr"), Is.EqualTo(steps.Select(line => (float)line.GetProperty("lr").GetDouble())));
        Assert.That(Scalars("kappa"), Is.EqualTo(Enumerable.Repeat(2f, 25)));
        Assert.That(Scalars("noise_scale"), Has.Length.EqualTo(steps.Count(line => line.GetProperty("noise_scale").ValueKind == JsonValueKind.Number)));
        Assert.That(Scalars("test_accuracy"), Is.EqualTo(run.Metrics("eval").Select(line => (float)line.GetProperty("test_accuracy").GetDouble())));
        Assert.That(events.Scalars.Where(scalar => scalar.Tag == "test_accuracy").Select(scalar => scalar.Step), Is.EqualTo(new long[] { 10, 20, 25 }));
    }

    /// <summary>
    /// Each rank's peak memory rides in a slot of the step's scalars that only that rank writes; the
    /// host writes its part of the scalars whole before every all-reduce (on a GPU through a copy beside
    /// the device buffer, which is how the slots once summed step after step: 42.86 GiB at step 50 of a
    /// run whose ranks peaked at 0.9 GiB). The step lines and the progress line report a peak, never a
    /// sum over steps, and end where summary.json's per-rank peaks (taken after the last evaluation) are.
    /// </summary>
    [Test]
    public void EveryStepReportsThePeakMemoryOfTheRanksNotASumOverSteps()
    {
        string directory = Path.Combine(TestDirectory, "run");
        ProcessOutcome outcome = ChildProcess.MpiRun(2, ChildProcess.Hpcadam,
            ["train", $"--Data:Dir={s_dataDir}", $"--Run:Dir={directory}", "--Train:Steps=40", "--Batch:MicroBatchSize=16", "--Batch:Kappa=2"]);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        var run = new RunFiles(directory);
        double[] stepPeaks = run.Metrics("step").Select(line => line.GetProperty("peak_rss_mib").GetDouble()).ToArray();
        double summaryPeak = run.Summary.GetProperty("peak_rss_mib").EnumerateArray().Max(rank => rank.GetDouble());
        string progress = outcome.Stdout.Split('\n').Last(line => line.StartsWith("# step 40/40", StringComparison.Ordinal));
        TestContext.Out.WriteLine($"step peaks {stepPeaks[0]:F1} … {stepPeaks[^1]:F1} MiB, summary {summaryPeak:F1} MiB; {progress}");
        Assert.Multiple(() =>
        {
            Assert.That(stepPeaks, Has.All.InRange(0.5 * summaryPeak, summaryPeak + 0.1));
            Assert.That(progress, Does.Contain(string.Create(CultureInfo.InvariantCulture, $"peak rss {stepPeaks[^1] / 1024:0.00} GiB")));
        });
    }

    [Test]
    public void ARankStartedWithAnotherConfigurationIsNamedAndNothingTrains()
    {
        string runDirectory = Path.Combine(TestDirectory, "run");
        string[] arguments = ["train", "--Data:Name=synthetic", $"--Run:Dir={runDirectory}", "--Train:Steps=2"];
        ProcessOutcome outcome = ChildProcess.Run("mpirun",
            ["-np", "1", ChildProcess.Hpcadam, .. arguments, ":", "-np", "1", "-x", "HPCADAM__Train__Seed=7", ChildProcess.Hpcadam, .. arguments],
            environment: null, TimeSpan.FromMinutes(2));
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("rank 1 was started with another configuration than rank 0"), outcome.ToString());
        Assert.That(Directory.Exists(runDirectory), Is.False);
    }

    private RunFiles Train(int ranks, string name, params string[] arguments)
    {
        string directory = Path.Combine(TestDirectory, name);
        string[] all = ["train", $"--Data:Dir={s_dataDir}", $"--Run:Dir={directory}", .. arguments];
        ProcessOutcome outcome = ranks == 1 ? ChildProcess.RunAlone(all) : ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, all);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("test accuracy:").And.Contain("MiB all-reduced per step"), outcome.ToString());
        return new RunFiles(directory);
    }
}
