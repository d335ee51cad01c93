namespace HpcAdam.Tests.Training;

/// <summary>Short `hpcadam train` jobs on the embedded synthetic set, for tests of resume and faults.</summary>
internal static class TrainingJobs
{
    /// <summary>M = 16, κ = 4 on the synthetic set: small enough that a step takes milliseconds.</summary>
    public static readonly string[] Small = ["--Data:Name=synthetic", "--Batch:MicroBatchSize=16", "--Batch:Kappa=4"];

    public static ProcessOutcome Run(int ranks, string runDirectory, IEnumerable<string> arguments, Dictionary<string, string>? environment = null)
    {
        string[] all = ["train", $"--Run:Dir={runDirectory}", .. Small, .. arguments];
        return ranks == 1 ? ChildProcess.RunAlone(all, environment) : ChildProcess.MpiRun(ranks, ChildProcess.Hpcadam, all, environment);
    }

    public static RunFiles Succeed(int ranks, string runDirectory, params string[] arguments)
    {
        ProcessOutcome outcome = Run(ranks, runDirectory, arguments);
        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        return new RunFiles(runDirectory);
    }

    public static byte[] Bytes(string runDirectory, long step, string file) =>
        File.ReadAllBytes(Path.Combine(runDirectory, "checkpoints", step.ToString("D8", System.Globalization.CultureInfo.InvariantCulture), file));
}
