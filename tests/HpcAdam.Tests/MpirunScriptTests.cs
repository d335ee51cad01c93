namespace HpcAdam.Tests;

/// <summary>
/// scripts/mpirun.sh NP COMMAND... as the README and quickstart.sh use it: it adds what Open MPI's
/// mpirun wants as root (--allow-run-as-root) and beyond the cores (--oversubscribe).
/// </summary>
public sealed class MpirunScriptTests
{
    [Test]
    public void MoreRanksThanCoresStartAsRootWhereAPlainMpirunRefuses()
    {
        // One rank more than the cores, without the variables by which the tests let every mpirun run as root.
        string ranks = (Environment.ProcessorCount + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
        string[] withoutRootPermission = ["-u", "OMPI_ALLOW_RUN_AS_ROOT", "-u", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"];
        string script = Path.Combine(ChildProcess.RepoRoot, "scripts", "mpirun.sh");

        ProcessOutcome plain = ChildProcess.Run("env", [.. withoutRootPermission, "mpirun", "-np", ranks, ChildProcess.Hpcadam, "doctor"], null, TimeSpan.FromMinutes(1));
        ProcessOutcome scripted = ChildProcess.Run("env", [.. withoutRootPermission, script, ranks, ChildProcess.Hpcadam, "doctor"], null, TimeSpan.FromMinutes(2));

        Assert.That(plain.ExitCode, Is.Not.Zero, $"plain mpirun started {ranks} ranks: this test proves nothing\n{plain}");
        Assert.That(scripted.ExitCode, Is.Zero, scripted.ToString());
        Assert.That(scripted.Stdout, Does.Contain($"verdict: ready to train on {ranks} rank(s)"), scripted.ToString());
    }
}
