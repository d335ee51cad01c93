using System.Security.Cryptography;
using System.Text.Json;
using HpcAdam.Trainer.Training;

namespace HpcAdam.Tests.Training;

/// <summary>--Resume: exact, after a crash, on another world size, and never from a checkpoint that does not fit.</summary>
[TestFixture]
public sealed class ResumeTests() : TemporaryDirectoryTest("hpcadam-resume-")
{
    [Test]
    public void ResumingNThenNIsBitIdenticalToOneRunOf2NEvenAfterAKill9OfOneRank()
    {
        string whole = Path.Combine(TestDirectory, "whole"), halves = Path.Combine(TestDirectory, "halves"), killed = Path.Combine(TestDirectory, "killed");
        TrainingJobs.Succeed(2, whole, "--Train:Steps=20");
        TrainingJobs.Succeed(2, halves, "--Train:Steps=10");
        TrainingJobs.Succeed(2, halves, "--Train:Steps=20", "--Resume=latest");

        ProcessOutcome crash = TrainingJobs.Run(2, killed, ["--Train:Steps=20", "--Checkpoint:Every=5"],
            new Dictionary<string, string> { ["HPCADAM_FAULT"] = "kill@1:13" });
        Assert.That(crash.ExitCode, Is.Not.Zero, crash.ToString());
        Assert.That(crash.Elapsed, Is.LessThan(TimeSpan.FromSeconds(60)), "the job outlived the killed rank by more than 60 s");
        TestContext.Out.WriteLine($"kill -9 of rank 1 at step 13: mpirun exited {crash.ExitCode} after {crash.Elapsed.TotalSeconds:F1} s (whole job)");
        Assert.That(new RunFiles(killed).Checkpoints(), Is.EqualTo(new[] { "00000005", "00000010" }));
        TrainingJobs.Succeed(2, killed, "--Train:Steps=20", "--Resume=latest");

        foreach (string file in new[] { "model.safetensors", "optimizer.safetensors" })
        {
            Assert.That(TrainingJobs.Bytes(halves, 20, file), Is.EqualTo(TrainingJobs.Bytes(whole, 20, file)), $"10 + 10 steps: {file}");
            Assert.That(TrainingJobs.Bytes(killed, 20, file), Is.EqualTo(TrainingJobs.Bytes(whole, 20, file)), $"killed at 13, resumed from 10: {file}");
        }
        Assert.That(new RunFiles(killed).Metrics("step").Select(line => line.GetProperty("step").GetInt64()),
            Is.EqualTo(Enumerable.Range(1, 20).Select(step => (long)step)), "metrics.jsonl after the resume: each step once");
    }

    [Test]
    public void ResumingOnAnotherNumberOfRanksContinuesTheSameStreamAndTrajectory()
    {
        string whole = Path.Combine(TestDirectory, "whole"), shrunk = Path.Combine(TestDirectory, "shrunk");
        RunFiles reference = TrainingJobs.Succeed(2, whole, "--Train:Steps=20", "--Trace:Samples=true");
        TrainingJobs.Succeed(2, shrunk, "--Train:Steps=10", "--Trace:Samples=true");
        RunFiles resumed = TrainingJobs.Succeed(1, shrunk, "--Train:Steps=20", "--Trace:Samples=true", "--Resume=latest");

        Assert.That(File.ReadAllLines(Path.Combine(shrunk, "samples.jsonl")), Is.EqualTo(File.ReadAllLines(Path.Combine(whole, "samples.jsonl"))));
        double difference = RunFiles.MaxRelativeDifference(
            reference.Tensors("checkpoints/00000020/model.safetensors"), resumed.Tensors("checkpoints/00000020/model.safetensors"));
        TestContext.Out.WriteLine($"2 ranks for 10 steps, then 1 rank for 10, against 2 ranks for 20: max relative weight difference {difference:E2}");
        Assert.That(difference, Is.LessThan(1e-5));
        JsonElement state = JsonDocument.Parse(File.ReadAllText(Path.Combine(shrunk, "checkpoints/00000020/state.json"))).RootElement;
        Assert.That(state.GetProperty("world_size").GetInt32(), Is.EqualTo(1));
        Assert.That(state.GetProperty("micro_batches_consumed").GetInt64(), Is.EqualTo(80));
    }

    [TestCase("another model", "Model:Hidden = 256, this run has 128", "--Model:Hidden=128")]
    [TestCase("another micro-batch size", "Batch:MicroBatchSize = 16, this run has 8", "--Batch:MicroBatchSize=8")]
    [TestCase("a damaged model file", "does not match the SHA-256", "damage:model.safetensors")]
    [TestCase("a damaged state file", "cannot be read", "damage:state.json")]
    [TestCase("a checkpoint path that is not one", "neither a checkpoint folder nor a run folder", "path:/nonexistent/checkpoints")]
    [TestCase("the last step of the run", "is at step 5, where this run ends", "--Train:Steps=5")]
    public void AnIncompatibleOrDamagedCheckpointIsOneLineAndChangesNothingOnDisk(string what, string message, string change)
    {
        string run = Path.Combine(TestDirectory, "run");
        TrainingJobs.Succeed(2, run, "--Train:Steps=5");
        string checkpoint = Path.Combine(run, "checkpoints", "00000005");
        string[] arguments = ["--Train:Steps=10", "--Resume=latest"];
        if (change.StartsWith("damage:", StringComparison.Ordinal))
        {
            string file = Path.Combine(checkpoint, change["damage:".Length..]);
            byte[] bytes = File.ReadAllBytes(file);
            bytes[bytes.Length / 2] ^= 0x40;
            File.WriteAllBytes(file, bytes);
        }
        else if (change.StartsWith("path:", StringComparison.Ordinal))
            arguments = ["--Train:Steps=10", $"--Resume={change["path:".Length..]}"];
        else
            arguments = [.. arguments, change];
        Dictionary<string, string> before = Snapshot(run);

        ProcessOutcome outcome = TrainingJobs.Run(2, run, arguments);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        string[] lines = outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line.StartsWith("hpcadam", StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1), outcome.ToString());
        Assert.That(lines[0], Does.Contain(message), outcome.ToString());
        Assert.That(Snapshot(run), Is.EqualTo(before), $"resuming from {what} changed the run folder");
    }

    /// <summary>
    /// Every file under a folder with its SHA-256, but the lock file: a refused resume did hold the
    /// folder, and the lock file says who held it last.
    /// </summary>
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Where(path => Path.GetFileName(path) != RunFolderLock.FileName)
            .ToDictionary(path => Path.GetRelativePath(folder, path), path => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))));
}
