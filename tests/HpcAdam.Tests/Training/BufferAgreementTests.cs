using System.Globalization;
using System.Text.Json;
using HpcAdam.Optim;
using HpcAdam.Trainer.Configuration;
using HpcAdam.Trainer.Data;
using HpcAdam.Trainer.Models;
using static TorchSharp.torch;

namespace HpcAdam.Tests.Training;

/// <summary>
/// Every rank holds the same model after every step, buffers included, for models with and
/// without buffers and a κ that is not a multiple of the world size; and the merged batchnorm
/// statistics are those of one process running the step's micro-batches in turn.
/// </summary>
public sealed class BufferAgreementTests() : TemporaryDirectoryTest("hpcadam-buffers-")
{
    /// <summary>κ = 3 on 2 ranks: rank 0 runs micro-batches 0 and 2, rank 1 micro-batch 1.</summary>
    private static readonly string[] s_resNet =
        ["--Data:Name=synthetic", "--Model:Name=resnet18", "--Batch:MicroBatchSize=4", "--Batch:Kappa=3", "--Eval:Samples=20"];

    [Test]
    public void EveryWeightAndBatchnormBufferIsBitIdenticalOnBothRanksAfterEveryStep()
    {
        const int steps = 4;
        RunFiles run = Train(ranks: 2, "run", [.. s_resNet, $"--Train:Steps={steps}", "--Trace:Model=true"]);
        Dictionary<string, Tensor> initial = InitialBuffers();
        for (int step = 1; step <= steps; step++)
        {
            RequireTheSameBytesOnBothRanks(run, step);
            Dictionary<string, Tensor> buffers = Read(TraceFile(run, rank: 0, step)).Where(entry => initial.ContainsKey(entry.Key)).ToDictionary();
            Assert.That(buffers.Keys, Has.Count.EqualTo(3 * 20), "20 batchnorm layers, 3 buffers each");
            foreach ((string name, Tensor buffer) in buffers)
                if (name.EndsWith("num_batches_tracked", StringComparison.Ordinal))
                    Assert.That(buffer.item<long>(), Is.EqualTo(3 * step), name);
                else
                    Assert.That(buffer.eq(initial[name]).all().item<bool>(), Is.False, $"{name} never moved: the test would prove nothing");
        }
    }

    [TestCase("--Model:Name=vit", "--Model:PatchSize=4")]
    [TestCase("--Model:Name=resnet18", "--Model:Norm=layernorm")]
    public void ModelsWithoutRunningStatisticsHoldTheSameWeightsOnBothRanksAfterEveryStep(string model, string shape)
    {
        RunFiles run = Train(ranks: 2, "run", [.. s_resNet, model, shape, "--Train:Steps=4", "--Trace:Model=true"]);
        for (int step = 1; step <= 4; step++)
            RequireTheSameBytesOnBothRanks(run, step);
        Assert.That(Read(TraceFile(run, rank: 0, step: 4)).Keys, Has.None.Contains("running"));
    }

    /// <summary>Rank 1's weights and buffers after <paramref name="step"/> are rank 0's, byte for byte, and the step moved them.</summary>
    private static void RequireTheSameBytesOnBothRanks(RunFiles run, int step)
    {
        byte[] rankZero = File.ReadAllBytes(TraceFile(run, rank: 0, step)), rankOne = File.ReadAllBytes(TraceFile(run, rank: 1, step));
        Assert.That(rankOne, Is.EqualTo(rankZero), $"step {step}: rank 1's model differs from rank 0's");
        if (step > 1)
            Assert.That(rankZero, Is.Not.EqualTo(File.ReadAllBytes(TraceFile(run, rank: 0, step - 1))), $"step {step} changed nothing: the test would prove nothing");
    }

    [Test]
    public void TheMergedStatisticsAreThoseOfOneProcessRunningTheStepsMicroBatchesInTurn()
    {
        RunFiles run = Train(ranks: 2, "run", [.. s_resNet, "--Train:Steps=1", "--Trace:Samples=true", "--Trace:Model=true"]);
        long[][] microBatches = JsonDocument.Parse(File.ReadLines(Path.Combine(run.Directory, "samples.jsonl")).First()).RootElement
            .GetProperty("micro_batches").EnumerateArray().Select(batch => batch.EnumerateArray().Select(index => index.GetInt64()).ToArray()).ToArray();
        Dictionary<string, Tensor> merged = Read(TraceFile(run, rank: 0, step: 1));

        // The oracle: plain TorchSharp, the initial model, the three micro-batches one after another.
        Dictionary<string, Tensor> sequential = RunInTurn(run, microBatches);
        Dictionary<string, Tensor> rankZeroOnly = RunInTurn(run, [microBatches[0], microBatches[2]]);
        double worst = 0, ddp = 0;
        foreach ((string name, Tensor expected) in sequential.Where(entry => entry.Value.is_floating_point()))
        {
            worst = Math.Max(worst, RelativeDifference(merged[name], expected));
            ddp = Math.Max(ddp, RelativeDifference(rankZeroOnly[name], expected));
        }
        TestContext.Out.WriteLine($"merged against one process in turn: {worst:E2}; rank 0's statistics alone (DDP): {ddp:E2}");
        Assert.That(worst, Is.LessThan(1e-5));
        Assert.That(ddp, Is.GreaterThan(1e-3), "the oracle cannot tell one rank's statistics from all of them");
        Assert.That(merged.Where(entry => !entry.Value.is_floating_point()).Select(entry => entry.Value.item<long>()), Has.All.EqualTo(3));
    }

    /// <summary>
    /// The buffers as one block per dtype (a few whole-block operations per micro-batch) give the bytes
    /// the code before them gave, one buffer at a time: the SHA-256 of the step-3 checkpoint that
    /// commit e1665c8 wrote with these settings on this machine's TorchSharp-cpu 0.107 (one thread per
    /// process, as the harness runs them). A changed libtorch may change these bytes; a changed merge rule
    /// or a buffer left out of its block does. The micro-batches gathered ahead on a background thread
    /// (Train:Prefetch, the default) or on the training thread when taken give the same bytes.
    /// </summary>
    [TestCase(1, true, "be46822be7160c4c016b1c19dc88c136c6663c76edd4721a8af2626d3caf6894")]
    [TestCase(1, false, "be46822be7160c4c016b1c19dc88c136c6663c76edd4721a8af2626d3caf6894")]
    [TestCase(2, true, "ecfdbd545a49c2a37da02d2f7aec53a868353e4e1afac92085dd1a50b6ccbc82")]
    [TestCase(2, false, "ecfdbd545a49c2a37da02d2f7aec53a868353e4e1afac92085dd1a50b6ccbc82")]
    public void TheFlatBufferBlocksGiveTheBytesOfThePerBufferStepWithAndWithoutPrefetching(int ranks, bool prefetch, string sha256)
    {
        RunFiles run = Train(ranks, "run", [.. s_resNet, "--Train:Steps=3", $"--Train:Prefetch={prefetch}"]);
        byte[] checkpoint = TrainingJobs.Bytes(run.Directory, 3, "model.safetensors");
        Assert.That(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(checkpoint)), Is.EqualTo(sha256));
    }

    /// <summary>
    /// The two runs compute the same steps and differ only in the order floating-point sums are
    /// added, which Adam and batchnorm amplify from step to step: measured here (every process on
    /// one thread, as the test harness runs them), 2.0e-3 (weights) and 1.8e-2 (running statistics)
    /// after 20 steps, as far as one process on 1 and on 2 threads ends from itself. A missing
    /// micro-batch or one rank's statistics alone would be
    /// off by tenths from the first step (see the test above).
    /// </summary>
    [Test]
    public void OneRankAndTwoRanksOfABatchnormResNetAgreeAfter20Steps()
    {
        string[] settings = [.. s_resNet, "--Train:Steps=20", "--Optimizer:Lr=1e-4"];
        RunFiles one = Train(ranks: 1, "one", settings), two = Train(ranks: 2, "two", settings);
        Dictionary<string, Tensor> first = one.Tensors("checkpoints/00000020/model.safetensors"),
                                   second = two.Tensors("checkpoints/00000020/model.safetensors");
        double weights = WholeModelDifference(first, second, name => !name.Contains("running", StringComparison.Ordinal));
        double statistics = WholeModelDifference(first, second, name => name.Contains("running", StringComparison.Ordinal));
        TestContext.Out.WriteLine($"1 rank against 2 after 20 steps, ‖a − b‖/‖a‖ over all weights: {weights:E2}, over all running statistics: {statistics:E2}");
        Assert.Multiple(() =>
        {
            Assert.That(weights, Is.LessThan(1e-2));
            Assert.That(statistics, Is.LessThan(5e-2));
            foreach ((string name, Tensor counter) in first.Where(entry => !entry.Value.is_floating_point()))
                Assert.That(second[name].item<long>(), Is.EqualTo(counter.item<long>()).And.EqualTo(60), name);
        });
    }

    private RunFiles Train(int ranks, string name, string[] arguments)
    {
        string directory = Path.Combine(TestDirectory, name);
        ProcessOutcome outcome = TrainingJobs.Run(ranks, directory, arguments);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        return new RunFiles(directory);
    }

    private static string TraceFile(RunFiles run, int rank, int step) =>
        Path.Combine(run.Directory, "trace", string.Create(CultureInfo.InvariantCulture, $"model.rank-{rank}.step-{step:D8}.safetensors"));

    private static Dictionary<string, Tensor> Read(string path)
    {
        using FileStream file = File.OpenRead(path);
        return SafeTensorsFormat.Read(file).Tensors;
    }

    private static Dictionary<string, Tensor> InitialBuffers()
    {
        using var model = ResNet();
        return model.named_buffers().ToDictionary(entry => entry.name, entry => entry.buffer.clone());
    }

    /// <summary>The run's initial model, trained forward on <paramref name="microBatches"/> in turn; its buffers after.</summary>
    private static Dictionary<string, Tensor> RunInTurn(RunFiles run, long[][] microBatches)
    {
        using var model = ResNet();
        Dictionary<string, Tensor> initial = run.Tensors("initial.safetensors");
        using (no_grad())
        {
            foreach ((string name, var parameter) in model.named_parameters())
                parameter.copy_(initial[name]);
            foreach ((string name, Tensor buffer) in model.named_buffers())
                buffer.copy_(initial[name]);
        }
        using var data = ImageClassificationSet.Load("synthetic", "unused", train: true, seed: 0);
        model.train();
        using (no_grad())
            foreach (long[] indices in microBatches)
                model.forward(data.Images.index_select(0, tensor(indices)));
        return model.named_buffers().ToDictionary(entry => entry.name, entry => entry.buffer.clone());
    }

    private static nn.Module<Tensor, Tensor> ResNet()
    {
        manual_seed(0);
        return ModelFactory.Create(new ModelSettings { Name = "resnet18" }, new ImageShape(1, 28, 28), ImageClassificationSet.ClassCount);
    }

    /// <summary>‖a − b‖/‖a‖ over the floating-point tensors whose names <paramref name="include"/> takes, as one vector.</summary>
    private static double WholeModelDifference(Dictionary<string, Tensor> a, Dictionary<string, Tensor> b, Func<string, bool> include)
    {
        double difference = 0, size = 0;
        foreach ((string name, Tensor tensor) in a.Where(entry => entry.Value.is_floating_point() && include(entry.Key)))
        {
            using Tensor x = tensor.to(ScalarType.Float64), y = b[name].to(ScalarType.Float64);
            difference += (x - y).square().sum().item<double>();
            size += x.square().sum().item<double>();
        }
        return Math.Sqrt(difference / size);
    }

    private static double RelativeDifference(Tensor actual, Tensor expected)
    {
        using Tensor a = actual.to(ScalarType.Float64), b = expected.to(ScalarType.Float64);
        return (a - b).norm().item<double>() / Math.Max(b.norm().item<double>(), double.Epsilon);
    }
}
