namespace HpcAdam.Tests;

/// <summary>A child sees only what its test (and the harness: one thread) gives it: nothing of the shell that started the test run leaks into a job.</summary>
[NonParallelizable]   // sets process environment variables
public sealed class ChildProcessTests
{
    private static readonly string[] s_leaky =
        ["HPCADAM__Train__Steps", "HPCADAM_FAULT", "HPCADAM_MAX_CHUNK_ELEMENTS", "OMP_NUM_THREADS", "OMPI_COMM_WORLD_RANK", "SLURM_CONF", "PMIX_RANK"];

    [Test]
    public void InheritedSettingsFaultsLaunchersAndThreadCountsAreScrubbedAndGivenOnesPass()
    {
        foreach (string name in s_leaky)
            Environment.SetEnvironmentVariable(name, "7");
        try
        {
            ProcessOutcome env = ChildProcess.Run("env", [], new Dictionary<string, string> { ["HPCADAM_FAULT"] = "given" }, TimeSpan.FromMinutes(1));
            string[] variables = env.Stdout.Split('\n');
            Assert.That(variables.Where(line => s_leaky.Any(name => line.StartsWith(name + "=", StringComparison.Ordinal))),
                Is.EquivalentTo(new[] { "HPCADAM_FAULT=given", "OMP_NUM_THREADS=1" }), "the given fault, the harness's thread count, and nothing inherited");
        }
        finally
        {
            foreach (string name in s_leaky)
                Environment.SetEnvironmentVariable(name, null);
        }
    }
}
