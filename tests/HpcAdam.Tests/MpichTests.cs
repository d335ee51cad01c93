using System.Globalization;
using HpcAdam.Collectives;
using HpcAdam.Tests.Training;

namespace HpcAdam.Tests;

/// <summary>
/// Real jobs under MPICH's own launcher (Debian's mpiexec.mpich, Hydra), installed beside Open MPI by
/// scripts/setup.sh --with-mpich: the build made libhpcadam_mpi.mpich.so against MPICH's mpi.h, and
/// each rank must load that one because Hydra started it, with nothing set by the user. Two ranks,
/// no more: MPICH's ranks spin while they wait, and a third on this 2-core machine turns a second's
/// selftest of 14,000 small calls into minutes.
/// </summary>
public sealed class MpichTests() : TemporaryDirectoryTest("hpcadam-mpich-")
{
    private static ProcessOutcome Mpiexec(int ranks, IEnumerable<string> arguments, IDictionary<string, string>? environment = null) =>
        ChildProcess.Run("mpiexec.mpich", ["-n", ranks.ToString(CultureInfo.InvariantCulture), ChildProcess.Hpcadam, .. arguments],
            environment, TimeSpan.FromMinutes(3));

    [Test]
    public void SelftestIsExactUnderMpichWithEveryCallSplitIntoSmallChunks()
    {
        var environment = new Dictionary<string, string> { [MpiCommunicator.MaxChunkVariable] = "7" };
        ProcessOutcome outcome = Mpiexec(2, ["selftest", "--write", TestDirectory], environment);

        Assert.That(outcome.ExitCode, Is.Zero, outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("MPI (MPICH Version: 4").And.Contain("chunk limit 7 elements"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("rank 1: host").And.Contain("local rank 1 of 2"), outcome.ToString());
        // The shim's bfloat16 sum, a user-defined MPI_Op, under MPICH's own reduction code.
        Assert.That(outcome.Stdout, Does.Match(@"all-reduce bfloat16 as torch rounds +ok").And.Match(@"float32 and bfloat16 summed together +ok"), outcome.ToString());
        Assert.That(outcome.Stdout, Does.Contain("selftest passed: 11 checks on 2 rank(s)"), outcome.ToString());
        SelfTestResults.RequireExact(TestDirectory, ranks: 2);
    }

    [Test]
    public void DoctorSaysWhichShimEachLauncherGetsAndWhy()
    {
        ProcessOutcome mpich = Mpiexec(2, ["doctor"]);
        Assert.That(mpich.ExitCode, Is.Zero, mpich.ToString());
        Assert.That(mpich.Stdout, Does.Contain("MPICH Version: 4")
            .And.Contain("libhpcadam_mpi.mpich.so (PMI launcher (MPICH Hydra) is MPICH's)"), mpich.ToString());

        ProcessOutcome openMpi = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, ["doctor"]);
        Assert.That(openMpi.ExitCode, Is.Zero, openMpi.ToString());
        Assert.That(openMpi.Stdout, Does.Contain("Open MPI v4")
            .And.Contain("libhpcadam_mpi.openmpi.so (Open MPI mpirun is Open MPI's)"), openMpi.ToString());

        var named = new Dictionary<string, string> { [MpiShim.Variable] = "mpich" };
        ProcessOutcome alone = ChildProcess.RunAlone(["doctor"], named);
        Assert.That(alone.ExitCode, Is.Zero, alone.ToString());
        Assert.That(alone.Stdout, Does.Contain("MPICH Version: 4").And.Contain("libhpcadam_mpi.mpich.so (HPCADAM_MPI=mpich)"), alone.ToString());
    }

    [Test]
    public void AnUnknownMpiNameIsOneLineOnEachRank()
    {
        var environment = new Dictionary<string, string> { [MpiShim.Variable] = "intel" };
        ProcessOutcome outcome = Mpiexec(2, ["selftest"], environment);

        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("rank 0: HPCADAM_MPI=intel: give openmpi or mpich, or unset it to let the launcher decide")
            .And.Contain("rank 1: HPCADAM_MPI=intel"), outcome.ToString());
    }

    [Test]
    public void TrainingUnderMpichGivesTheSameWeightsAsUnderOpenMpi()
    {
        // Two ranks: every element of the all-reduce is one addition of two addends, which is
        // commutative in floating point, so the two MPIs' algorithms cannot differ in the result.
        string data = Path.Combine(ChildProcess.RepoRoot, "data"), runs = Directory.CreateTempSubdirectory("hpcadam-mpich-").FullName;
        try
        {
            string[] settings = ["train", $"--Data:Dir={data}", "--Train:Steps=20", "--Batch:MicroBatchSize=32", "--Batch:Kappa=4"];
            ProcessOutcome mpich = Mpiexec(2, [.. settings, $"--Run:Dir={runs}/mpich"]);
            Assert.That(mpich.ExitCode, Is.Zero, mpich.ToString());
            Assert.That(mpich.Stdout, Does.Contain("on 2 rank(s)"), mpich.ToString());
            ProcessOutcome openMpi = ChildProcess.MpiRun(2, ChildProcess.Hpcadam, [.. settings, $"--Run:Dir={runs}/openmpi"]);
            Assert.That(openMpi.ExitCode, Is.Zero, openMpi.ToString());

            const string Final = "checkpoints/00000020/model.safetensors";
            double difference = RunFiles.MaxRelativeDifference(
                new RunFiles(Path.Combine(runs, "openmpi")).Tensors(Final), new RunFiles(Path.Combine(runs, "mpich")).Tensors(Final));
            Assert.That(difference, Is.Zero);
        }
        finally
        {
            Directory.Delete(runs, recursive: true);
        }
    }

    [Test]
    public void ARankThatThrowsEndsTheWholeMpichJob()
    {
        ProcessOutcome outcome = Mpiexec(2, ["selftest", "--fail-rank", "1"]);

        Assert.That(outcome.ExitCode, Is.Not.Zero, outcome.ToString());
        Assert.That(outcome.Stderr, Does.Contain("rank 1: injected failure on rank 1"), outcome.ToString());
    }
}
