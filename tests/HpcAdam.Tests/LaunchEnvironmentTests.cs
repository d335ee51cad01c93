using System.Collections;
using HpcAdam.Collectives;

namespace HpcAdam.Tests;

public sealed class LaunchEnvironmentTests
{
    private static LaunchEnvironment Detect(params (string Name, string Value)[] variables) =>
        LaunchEnvironment.FromVariables(new Hashtable(variables.ToDictionary(v => v.Name, v => v.Value)));

    [Test]
    public void NoLauncherVariablesMeansASingleProcess()
    {
        LaunchEnvironment launch = Detect(("HOME", "/root"));
        Assert.That(launch.IsLaunched, Is.False);
    }

    [Test]
    public void OpenMpiMpirunIsRecognisedWithRankAndSize()
    {
        LaunchEnvironment launch = Detect(("OMPI_COMM_WORLD_RANK", "3"), ("OMPI_COMM_WORLD_SIZE", "4"), ("PMIX_RANK", "3"));
        Assert.That(launch, Is.EqualTo(new LaunchEnvironment("Open MPI mpirun", 3, 4, MpiFamily.OpenMpi)));
    }

    [Test]
    public void SrunWithPmixTakesRankAndSizeFromSlurm()
    {
        LaunchEnvironment launch = Detect(("PMIX_RANK", "1"), ("SLURM_STEP_ID", "0"), ("SLURM_PROCID", "1"),
            ("SLURM_STEP_NUM_TASKS", "2"), ("SLURM_NTASKS", "8"));
        Assert.That(launch, Is.EqualTo(new LaunchEnvironment("Slurm srun (PMIx)", 1, 2, MpiFamily.OpenMpi)));
    }

    [Test]
    public void MpichHydraIsRecognisedThroughPmi()
    {
        LaunchEnvironment launch = Detect(("PMI_RANK", "0"), ("PMI_SIZE", "2"));
        Assert.That(launch, Is.EqualTo(new LaunchEnvironment("PMI launcher (MPICH Hydra)", 0, 2, MpiFamily.Mpich)));
    }

    [Test]
    public void SrunWithPmi2IsMpichs()
    {
        LaunchEnvironment launch = Detect(("PMI_RANK", "1"), ("PMI_FD", "5"), ("SLURM_STEP_ID", "0"), ("SLURM_PROCID", "1"), ("SLURM_STEP_NUM_TASKS", "2"));
        Assert.That(launch, Is.EqualTo(new LaunchEnvironment("Slurm srun (PMI-2)", 1, 2, MpiFamily.Mpich)));
    }

    [Test]
    public void SrunWithoutPmiIsStillALaunch()
    {
        LaunchEnvironment launch = Detect(("SLURM_STEP_ID", "2"), ("SLURM_PROCID", "0"), ("SLURM_STEP_NUM_TASKS", "2"));
        Assert.That(launch, Is.EqualTo(new LaunchEnvironment("Slurm srun (no PMI)", 0, 2)));
    }

    [Test]
    public void ABatchScriptIsNotALaunchOfRanks()
    {
        LaunchEnvironment launch = Detect(("SLURM_STEP_ID", "4294967294"), ("SLURM_PROCID", "0"), ("SLURM_NTASKS", "4"));
        Assert.That(launch.IsLaunched, Is.False);
    }
}
