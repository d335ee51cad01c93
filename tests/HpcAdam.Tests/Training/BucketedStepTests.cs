using System.Text.Json;

namespace HpcAdam.Tests.Training;

/// <summary>
/// Collectives:BucketMiB: the step's all-reduce in buckets, with the statistics and the optimizer taking each bucket as it
/// arrives, changes no bit of the training: the same checkpoint bytes (weights, m and v) and the same logged statistics as
/// the whole buffer in one call, on one rank and on two MPI ranks, for each way the step can meet the buckets.
/// </summary>
public sealed class BucketedStepTests() : TemporaryDirectoryTest("hpcadam-buckets-")
{
    /// <summary>The MLP (≈ 200k parameters) for 8 steps; 0.125 MiB is one chunk of 32768 elements, so S1 and S2 travel in 7 buckets each.</summary>
    private static readonly string[] s_run = ["--Model:Name=mlp", "--Train:Steps=8", "--Eval:Samples=64"];

    private const string OneChunk = "--Collectives:BucketMiB=0.125";

    private static readonly string[] s_statistics = ["loss", "grad_norm", "grad_var", "grad_sq_norm", "noise_scale", "noise_scale_raw", "lr", "clip_scale"];

    // The optimizer on each bucket as it arrives: BSI-Adam, and Adam, whose second moment comes from S1 alone.
    [TestCase(1, "--Optimizer:Name=bsi-adam")]
    [TestCase(2, "--Optimizer:Name=bsi-adam")]
    [TestCase(2, "--Optimizer:Name=adam")]
    // S2 in bfloat16: each bucket's bfloat16 slice travels and is widened on arrival.
    [TestCase(2, "--Collectives:SquaresPrecision=bfloat16")]
    // The optimizer after the last bucket: clipping needs the whole norm first, and so does AdaGrad-Norm's b².
    [TestCase(2, "--Optimizer:ClipNorm=0.05")]
    [TestCase(2, "--Optimizer:Name=adagrad-norm")]
    public void BucketsGiveTheBytesOfTheWholeBufferInOneCall(int ranks, string setting)
    {
        RunFiles whole = TrainingJobs.Succeed(ranks, Path.Combine(TestDirectory, "whole"), [.. s_run, setting]);
        RunFiles bucketed = TrainingJobs.Succeed(ranks, Path.Combine(TestDirectory, "bucketed"), [.. s_run, setting, OneChunk]);

        Assert.That(whole.Summary.GetProperty("allreduce_buckets").GetInt32(), Is.EqualTo(1));
        Assert.That(bucketed.Summary.GetProperty("allreduce_buckets").GetInt32(), Is.EqualTo(7), "the test needs more than one bucket to prove anything");
        Assert.That(bucketed.Summary.GetProperty("allreduce_bytes_per_step").GetInt64(), Is.EqualTo(whole.Summary.GetProperty("allreduce_bytes_per_step").GetInt64()));
        foreach (string file in new[] { "model.safetensors", "optimizer.safetensors" })
            Assert.That(TrainingJobs.Bytes(bucketed.Directory, 8, file), Is.EqualTo(TrainingJobs.Bytes(whole.Directory, 8, file)), file);
        List<JsonElement> wholeSteps = whole.Metrics("step"), bucketedSteps = bucketed.Metrics("step");
        Assert.That(bucketedSteps, Has.Count.EqualTo(8));
        for (int i = 0; i < wholeSteps.Count; i++)
            foreach (string field in s_statistics)
                Assert.That(bucketedSteps[i].GetProperty(field).ToString(), Is.EqualTo(wholeSteps[i].GetProperty(field).ToString()), $"step {i + 1}: {field}");
        if (setting.StartsWith("--Optimizer:ClipNorm", StringComparison.Ordinal))
            Assert.That(wholeSteps.Select(step => step.GetProperty("clip_scale").GetDouble()), Has.Some.LessThan(1), "no step was clipped: the case would prove nothing");
    }

    [Test]
    public void ABucketSizeThatIsNotANumberOfMiBIsRefusedInOneLine()
    {
        ProcessOutcome outcome = TrainingJobs.Run(1, Path.Combine(TestDirectory, "refused"), [.. s_run, "--Collectives:BucketMiB=-1"]);
        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("Collectives:BucketMiB = -1 must be 0 (one bucket) or a positive number of MiB"), outcome.ToString());
        Assert.That(Directory.Exists(Path.Combine(TestDirectory, "refused")), Is.False);
    }
}
