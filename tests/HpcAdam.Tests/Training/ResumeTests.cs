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

    /// <summary>With bfloat16 forward and backward the checkpoint holds the float32 master weights, from which the bfloat16 ones are rounded again.</summary>
    [Test]
    public void ResumingABfloat16RunIsBitIdenticalToOneRun()
    {
        string whole = Path.Combine(TestDirectory, "whole"), halves = Path.Combine(TestDirectory, "halves");
        TrainingJobs.Succeed(2, whole, "--Train:Steps=20", "--Train:Precision=bfloat16");
        TrainingJobs.Succeed(2, halves, "--Train:Steps=10", "--Train:Precision=bfloat16");
        TrainingJobs.Succeed(2, halves, "--Train:Steps=20", "--Train:Precision=bfloat16", "--Resume=latest");
        foreach (string file in new[] { "model.safetensors", "optimizer.safetensors" })
            Assert.That(TrainingJobs.Bytes(halves, 20, file), Is.EqualTo(TrainingJobs.Bytes(whole, 20, file)), $"10 + 10 steps: {file}");
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
        // Summation order only: 1.9e-8 here, as docs/training.md quotes; ten times that bounds it.
        Assert.That(difference, Is.LessThan(2e-7));
        JsonElement state = JsonDocument.Parse(File.ReadAllText(Path.Combine(shrunk, "checkpoints/00000020/state.json"))).RootElement;
        Assert.That(state.GetProperty("world_size").GetInt32(), Is.EqualTo(1));
        Assert.That(state.GetProperty("micro_batches_consumed").GetInt64(), Is.EqualTo(80));
    }

    /// <summary>docs/training.md: "A resumed run adds a second file to the folder, which TensorBoard reads as one run."</summary>
    [Test]
    public void AResumedRunAddsASecondTensorBoardFileAndLeavesTheFirstAsItWas()
    {
        string run = Path.Combine(TestDirectory, "run"), tensorBoard = Path.Combine(run, RunLog.TensorBoardFolder);
        TrainingJobs.Succeed(2, run, "--Train:Steps=4", "--Run:TensorBoard=true");
        string first = Directory.GetFiles(tensorBoard).Single();
        byte[] before = File.ReadAllBytes(first);
        RunFiles files = TrainingJobs.Succeed(2, run, "--Train:Steps=8", "--Resume=latest", "--Run:TensorBoard=true");

        string second = Directory.GetFiles(tensorBoard).Single(file => file != first);
        Assert.That(File.ReadAllBytes(first), Is.EqualTo(before), "the resume changed the first file");
        Assert.That(Path.GetFileName(second), Does.StartWith("events.out.tfevents."));
        long[] LossSteps(string file) => [.. TensorBoardEventFile.Read(file).Scalars.Where(scalar => scalar.Tag == "loss").Select(scalar => scalar.Step)];
        Assert.That(LossSteps(first), Is.EqualTo(new long[] { 1, 2, 3, 4 }));
        Assert.That(LossSteps(second), Is.EqualTo(new long[] { 5, 6, 7, 8 }));
        // Together they are metrics.jsonl's losses, each step once.
        float[] losses = [.. new[] { first, second }.SelectMany(file => TensorBoardEventFile.Read(file).Scalars).Where(scalar => scalar.Tag == "loss").Select(scalar => scalar.Value)];
        Assert.That(losses, Is.EqualTo(files.Metrics("step").Select(line => (float)line.GetProperty("loss").GetDouble())));
    }

    [TestCase("another model", "Model:Hidden = 256, this run has 128", "--Model:Hidden=128")]
    [TestCase("another micro-batch size", "Batch:MicroBatchSize = 16, this run has 8", "--Batch:MicroBatchSize=8")]
    [TestCase("another data set", "Data:Name = synthetic, this run has mnist", "--Data:Name=mnist")]
    [TestCase("another seed", "Train:Seed = 0, this run has 7", "--Train:Seed=7")]
    [TestCase("another optimizer", "Optimizer:Name = bsi-adam, this run has adam", "--Optimizer:Name=adam")]
    [TestCase("a checkpoint path that is not one", "neither a checkpoint folder nor a run folder", "path:/nonexistent/checkpoints")]
    [TestCase("the last step of the run", "is at step 5, where this run ends", "--Train:Steps=5")]
    public void AnIncompatibleCheckpointIsOneLineAndChangesNothingOnDisk(string what, string message, string change)
    {
        string[] arguments = change.StartsWith("path:", StringComparison.Ordinal)
            ? ["--Train:Steps=10", $"--Resume={change["path:".Length..]}"]
            : ["--Train:Steps=10", "--Resume=latest", $"--Data:Dir={Path.Combine(ChildProcess.RepoRoot, "data")}", change];
        RefusedResume(what, message, arguments, damage: null);
    }

    /// <summary>Each file of a checkpoint damaged where it matters, in a way that keeps it well-formed (JSON stays JSON).</summary>
    [TestCase("the step in state.json", "state.json", "\"step\": 5,", "\"step\": 4,", "state.json does not match the SHA-256 recorded in SHA256SUMS")]
    [TestCase("torch's random state in state.json", "state.json", "\"torch_rng_state\": \"", "\"torch_rng_state\": \"A", "state.json does not match the SHA-256")]
    [TestCase("the learning rate in config.json", "config.json", "\"Lr\": 0.001", "\"Lr\": 0.002", "config.json does not match the SHA-256")]
    [TestCase("the step in the optimizer's metadata", "optimizer.safetensors", "\"step\":\"5\"", "\"step\":\"6\"", "optimizer.safetensors does not match the SHA-256")]
    [TestCase("a weight of out.bias", "model.safetensors", "tensor:out.bias", "", "model.safetensors does not match the SHA-256")]
    [TestCase("the model's sum in SHA256SUMS", "SHA256SUMS", "  model.safetensors", "0  model.safetensors", "has a damaged line")]
    [TestCase("the state's line of SHA256SUMS, removed", "SHA256SUMS", "dropline:state.json", "", "state.json does not match the SHA-256 recorded in SHA256SUMS")]
    [TestCase("a missing optimizer file", "optimizer.safetensors", "delete", "", "optimizer.safetensors is missing: the checkpoint is incomplete")]
    [TestCase("a missing SHA256SUMS", "SHA256SUMS", "delete", "", "has no SHA256SUMS: the checkpoint is incomplete")]
    public void ADamagedCheckpointIsOneLineExitCode2AndChangesNothingOnDisk(string what, string file, string find, string replace, string message)
    {
        RefusedResume(what, message, ["--Train:Steps=10", "--Resume=latest"], checkpoint =>
        {
            string path = Path.Combine(checkpoint, file);
            if (find == "delete")
                File.Delete(path);
            else if (find.StartsWith("tensor:", StringComparison.Ordinal))
                FlipFirstByteOf(path, find["tensor:".Length..]);
            else if (find.StartsWith("dropline:", StringComparison.Ordinal))
                File.WriteAllLines(path, File.ReadAllLines(path).Where(line => !line.EndsWith(find["dropline:".Length..], StringComparison.Ordinal)));
            else
            {
                string text = File.ReadAllText(path);
                Assert.That(text, Does.Contain(find), $"the damage to {file} would change nothing");
                File.WriteAllText(path, ReplaceFirst(text, find, replace));
            }
        });
    }

    /// <summary>A 2-rank, 5-step run, perhaps damaged, then resumed with <paramref name="arguments"/>: exit 2, one line, nothing changed.</summary>
    private void RefusedResume(string what, string message, string[] arguments, Action<string>? damage)
    {
        string run = Path.Combine(TestDirectory, "run");
        TrainingJobs.Succeed(2, run, "--Train:Steps=5");
        damage?.Invoke(Path.Combine(run, "checkpoints", "00000005"));
        Dictionary<string, string> before = Snapshot(run);

        ProcessOutcome outcome = TrainingJobs.Run(2, run, arguments);
        Assert.That(outcome.ExitCode, Is.EqualTo(2), outcome.ToString());
        string[] lines = outcome.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line.StartsWith("hpcadam", StringComparison.Ordinal)).ToArray();
        Assert.That(lines, Has.Length.EqualTo(1), outcome.ToString());
        Assert.That(lines[0], Does.Contain(message), outcome.ToString());
        Assert.That(Snapshot(run), Is.EqualTo(before), $"resuming from {what} changed the run folder");
    }

    private static string ReplaceFirst(string text, string find, string replace)
    {
        int at = text.IndexOf(find, StringComparison.Ordinal);
        return text[..at] + replace + text[(at + find.Length)..];
    }

    /// <summary>Flips the first byte of tensor <paramref name="name"/>'s data in a safetensors file, found through its header.</summary>
    private static void FlipFirstByteOf(string path, string name)
    {
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = BitConverter.ToInt64(bytes, 0);
        JsonElement header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength)).RootElement;
        long offset = 8 + headerLength + header.GetProperty(name).GetProperty("data_offsets")[0].GetInt64();
        bytes[offset] ^= 0x40;
        File.WriteAllBytes(path, bytes);
    }

    /// <summary>
    /// Every file under a folder with its SHA-256, but the lock file: a refused resume did hold the
    /// folder, and the lock file says who held it last.
    /// </summary>
    private static Dictionary<string, string> Snapshot(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Where(path => Path.GetFileName(path) != RunFolderLock.FileName)
            .ToDictionary(path => Path.GetRelativePath(folder, path), path => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))));
}
