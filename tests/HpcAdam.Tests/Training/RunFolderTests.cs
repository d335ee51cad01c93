using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using HpcAdam.Trainer.Training;

namespace HpcAdam.Tests.Training;

/// <summary>
/// One job per run folder (a lock the kernel drops with the process), checkpoint retention with
/// crash-safe deletion, and a checkpoint that does not fit on the disk: with real processes, a
/// real mpirun and a real, too small file system.
/// </summary>
[TestFixture]
public sealed class RunFolderTests() : TemporaryDirectoryTest("hpcadam-folder-")
{
    [Test]
    public void OfTwoJobsStartedTogetherOnOneFolderExactlyOneRunsAndAKilledOneLeavesNoLockBehind()
    {
        string run = Path.Combine(TestDirectory, "run");
        // Whichever job takes the folder checkpoints step 2, then stalls in step 3 and holds it until it is killed.
        var stall = new Dictionary<string, string> { ["HPCADAM_FAULT"] = "stall@0:3" };
        string[] arguments = ["train", $"--Run:Dir={run}", .. TrainingJobs.Small, "--Train:Steps=10", "--Checkpoint:Every=2", "--Resume=latest"];
        using StartedProcess alone = ChildProcess.Start(ChildProcess.Hpcadam, arguments, stall);
        using StartedProcess twoRanks = ChildProcess.Start("mpirun", ["-np", "2", ChildProcess.Hpcadam, .. arguments], stall);

        var clock = Stopwatch.StartNew();
        while (!alone.HasExited && !twoRanks.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2))
            Thread.Sleep(100);
        (StartedProcess refused, StartedProcess holder, int holderRanks) = alone.HasExited ? (alone, twoRanks, 2) : (twoRanks, alone, 1);
        ProcessOutcome refusal = refused.Finish(TimeSpan.FromSeconds(30));
        Assert.That(refusal.ExitCode, Is.EqualTo(3), refusal.ToString());
        string line = refusal.Stderr.Split('\n').Single(text => text.StartsWith("hpcadam", StringComparison.Ordinal));
        Assert.That(line, Does.Match($@"^hpcadam train: Run:Dir = {Regex.Escape(run)} is in use by another job, process \d+ on {Regex.Escape(Environment.MachineName)}, since .* UTC: wait for it to end, or choose another Run:Dir$"));
        if (holderRanks == 1)
            Assert.That(line, Does.Contain($"process {holder.Id} "));

        // The holder alone wrote the folder: one start, its world size, its checkpoint.
        WaitFor(() => File.Exists(Path.Combine(run, "checkpoints", "00000002", "state.json")));
        Assert.That(holder.HasExited, Is.False, "the job that took the folder should still be running");
        holder.KillTree();
        var files = new RunFiles(run);
        Assert.That(files.Metrics("start").Select(start => start.GetProperty("world_size").GetInt32()), Is.EqualTo(new[] { holderRanks }));

        // SIGKILL left the lock file but no lock: the requeued job goes on from the checkpoint.
        Assert.That(File.Exists(Path.Combine(run, RunFolderLock.FileName)), Is.True);
        ProcessOutcome resumed = TrainingJobs.Run(1, run, ["--Train:Steps=10", "--Checkpoint:Every=2", "--Resume=latest"]);
        Assert.That(resumed.ExitCode, Is.Zero, resumed.ToString());
        Assert.That(files.Metrics("resume").Single().GetProperty("from_step").GetInt64(), Is.EqualTo(2));
    }

    [Test]
    public void AJobOnAFolderAnotherProcessHoldsIsRefusedAndChangesNothing()
    {
        string run = Path.Combine(TestDirectory, "run"), sweep = Path.Combine(TestDirectory, "sweep");
        TrainingJobs.Succeed(1, run, "--Train:Steps=4", "--Checkpoint:Every=2");
        using (RunFolderLock.Take(run, "Run:Dir"))
        using (RunFolderLock.Take(sweep, "Sweep:Dir"))
        {
            Dictionary<string, byte[]> before = Contents(run);
            ProcessOutcome train = TrainingJobs.Run(2, run, ["--Train:Steps=8", "--Resume=latest"]);
            Assert.That(train.ExitCode, Is.EqualTo(3), train.ToString());
            Assert.That(train.Stderr, Does.Contain($"is in use by another job, process {Environment.ProcessId} on {Environment.MachineName}"));
            Assert.That(Contents(run), Is.EqualTo(before), "the refused job changed the folder");

            ProcessOutcome sweepJob = ChildProcess.RunAlone(["sweep", "--Data:Name=synthetic", $"--Sweep:Dir={sweep}", "--Sweep:Kappas=1,2", "--Sweep:Lrs=1e-3",
                "--Batch:MicroBatchSize=10", "--Sweep:Samples=200", "--Sweep:EvalEverySamples=100"]);
            Assert.That(sweepJob.ExitCode, Is.EqualTo(3), sweepJob.ToString());
            Assert.That(sweepJob.Stderr.Trim(), Does.StartWith($"hpcadam sweep: Sweep:Dir = {sweep} is in use by another job, process {Environment.ProcessId}"));
            Assert.That(Directory.GetFileSystemEntries(sweep).Select(Path.GetFileName), Is.EqualTo(new[] { RunFolderLock.FileName }));
        }
        ProcessOutcome released = TrainingJobs.Run(1, run, ["--Train:Steps=8", "--Resume=latest"]);
        Assert.That(released.ExitCode, Is.Zero, released.ToString());
    }

    /// <summary>
    /// Run:Lock=false, for a file system without flock: the job takes no lock at all, so it trains and
    /// resumes in a folder (and sweeps in one) another process holds, and leaves that holder's .lock as it was.
    /// </summary>
    [Test]
    public void WithRunLockFalseAJobTakesNoLockAndRunsInAFolderAnotherProcessHolds()
    {
        string run = Path.Combine(TestDirectory, "run"), sweep = Path.Combine(TestDirectory, "sweep");
        using (RunFolderLock.Take(run, "Run:Dir"))
        using (RunFolderLock.Take(sweep, "Sweep:Dir"))
        {
            TrainingJobs.Succeed(2, run, "--Train:Steps=4", "--Checkpoint:Every=2", "--Run:Lock=false");
            RunFiles files = TrainingJobs.Succeed(1, run, "--Train:Steps=6", "--Resume=latest", "--Run:Lock=false");
            Assert.That(files.Metrics("resume").Single().GetProperty("from_step").GetInt64(), Is.EqualTo(4));

            ProcessOutcome sweepJob = ChildProcess.RunAlone(["sweep", "--Data:Name=synthetic", $"--Sweep:Dir={sweep}", "--Sweep:Kappas=1,2", "--Sweep:Lrs=1e-3",
                "--Batch:MicroBatchSize=10", "--Sweep:Samples=200", "--Sweep:EvalEverySamples=100", "--Run:Lock=false"]);
            Assert.That(sweepJob.ExitCode, Is.Zero, sweepJob.ToString());
            Assert.That(File.Exists(Path.Combine(sweep, "invariance.json")), Is.True, sweepJob.ToString());
        }
        // Read once this process no longer holds it: the .lock files still name this process, which no job rewrote.
        foreach (string folder in new[] { run, sweep })
            Assert.That(JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, RunFolderLock.FileName))).RootElement.GetProperty("pid").GetInt32(),
                Is.EqualTo(Environment.ProcessId), folder);
    }

    [Test]
    public void TheNewestThreeAndEveryHundredthCheckpointRemainAndTheRunResumesFromTheLast()
    {
        string run = Path.Combine(TestDirectory, "run");
        string[] retention = ["--Checkpoint:Every=10", "--Checkpoint:Keep=3", "--Checkpoint:KeepEvery=100"];
        RunFiles files = TrainingJobs.Succeed(1, run, ["--Train:Steps=300", .. retention]);
        Assert.That(files.Checkpoints(), Is.EqualTo(new[] { "00000100", "00000200", "00000280", "00000290", "00000300" }));

        TrainingJobs.Succeed(2, run, ["--Train:Steps=310", "--Resume=latest", .. retention]);
        Assert.That(files.Metrics("resume").Single().GetProperty("from_step").GetInt64(), Is.EqualTo(300));
        Assert.That(files.Checkpoints(), Is.EqualTo(new[] { "00000100", "00000200", "00000290", "00000300", "00000310" }));
    }

    [Test]
    public void HalfWrittenAndHalfDeletedCheckpointsAreNeverResumedFromAndAreCleanedUp()
    {
        string run = Path.Combine(TestDirectory, "run"), checkpoints = Path.Combine(run, "checkpoints");
        TrainingJobs.Succeed(1, run, "--Train:Steps=10", "--Checkpoint:Every=5");
        // What a job killed while writing step 15, or while deleting step 20, would leave (both newer than 10).
        foreach (string leftover in new[] { ".00000015.partial.99999", ".00000020.deleting.99999" })
            CopyFolder(Path.Combine(checkpoints, "00000010"), Path.Combine(checkpoints, leftover));

        RunFiles files = TrainingJobs.Succeed(1, run, "--Train:Steps=12", "--Checkpoint:Every=5", "--Resume=latest");
        Assert.That(files.Metrics("resume").Single().GetProperty("from_step").GetInt64(), Is.EqualTo(10));
        Assert.That(Directory.GetDirectories(checkpoints).Select(Path.GetFileName), Is.EquivalentTo(new[] { "00000005", "00000010", "00000012" }));
    }

    [Test]
    public void ACheckpointThatDoesNotFitIsOneLineADistinctExitCodeAndNoPartialFolder()
    {
        string mount = Path.Combine(TestDirectory, "small");
        Directory.CreateDirectory(mount);
        ProcessOutcome mounted = ChildProcess.Run("mount", ["-t", "tmpfs", "-o", "size=256k", "tmpfs", mount], null, TimeSpan.FromSeconds(30));
        Assert.That(mounted.ExitCode, Is.Zero, $"this test needs root to mount a 256 KiB tmpfs: {mounted}");
        try
        {
            // Checkpoints of an MLP of 6,370 parameters, about 80 KB each: the third or so no longer fits.
            string run = Path.Combine(mount, "run");
            ProcessOutcome full = TrainingJobs.Run(2, run, ["--Model:Hidden=8", "--Train:Steps=60", "--Checkpoint:Every=5", "--Checkpoint:Keep=0"]);
            Assert.That(full.ExitCode, Is.EqualTo(4), full.ToString());
            string line = full.Stderr.Split('\n').Single(text => text.StartsWith("hpcadam", StringComparison.Ordinal));
            Match said = Regex.Match(line,
                @"^hpcadam train: the checkpoint of step (\d+) could not be saved \(No space left on device\) and nothing of it was kept; the newest whole checkpoint is (\S+): go on from it with --Run:Resume=latest once there is room$");
            Assert.That(said.Success, Is.True, line);
            long failedStep = long.Parse(said.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            string[] left = Directory.GetDirectories(Path.Combine(run, "checkpoints")).Select(Path.GetFileName).Order().ToArray()!;
            Assert.That(left, Is.EqualTo(Enumerable.Range(1, (int)failedStep / 5 - 1).Select(k => (5 * k).ToString("D8", System.Globalization.CultureInfo.InvariantCulture))),
                "only whole checkpoints, and no .partial folder");
            Assert.That(said.Groups[2].Value, Is.EqualTo(Path.Combine(run, "checkpoints", left[^1])));
            Assert.That(() => CheckpointReader.Read(said.Groups[2].Value), Throws.Nothing, "the newest whole checkpoint reads back");
        }
        finally
        {
            ChildProcess.Run("umount", [mount], null, TimeSpan.FromSeconds(30));
        }
    }

    private static void WaitFor(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.That(clock.Elapsed, Is.LessThan(TimeSpan.FromMinutes(2)), "waited too long: the job hangs");
            Thread.Sleep(100);
        }
    }

    /// <summary>Every file of <paramref name="folder"/> and its bytes, but the lock file this process holds (and so cannot open again).</summary>
    private static Dictionary<string, byte[]> Contents(string folder) =>
        Directory.GetFiles(folder, "*", SearchOption.AllDirectories).Where(path => Path.GetFileName(path) != RunFolderLock.FileName)
            .ToDictionary(path => Path.GetRelativePath(folder, path), File.ReadAllBytes);

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (string file in Directory.GetFiles(from))
            File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
