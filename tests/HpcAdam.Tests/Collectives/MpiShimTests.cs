using HpcAdam.Collectives;

namespace HpcAdam.Tests.Collectives;

/// <summary>Which shim build a process loads: the decision table of <see cref="MpiShim.Choose"/>.</summary>
public sealed class MpiShimTests
{
    private static readonly LaunchEnvironment s_hydra = new("PMI launcher (MPICH Hydra)", 0, 2, MpiFamily.Mpich);
    private static readonly LaunchEnvironment s_mpirun = new("Open MPI mpirun", 0, 2, MpiFamily.OpenMpi);

    private static bool BothBuilt(string name) => true;

    private static bool DefaultOnly(string name) => name == MpiShim.DefaultFileName;

    [Test]
    public void TheLauncherPicksItsFamilysBuild()
    {
        Assert.That(MpiShim.Choose(s_hydra, null, BothBuilt).FileName, Is.EqualTo("libhpcadam_mpi.mpich.so"));
        Assert.That(MpiShim.Choose(s_mpirun, null, BothBuilt).FileName, Is.EqualTo("libhpcadam_mpi.openmpi.so"));
    }

    [Test]
    public void WithOneMpiBuiltTheDefaultShimServesEveryLauncher()
    {
        // A cluster with one MPI module loaded: whatever the launcher, the one build there is.
        foreach (LaunchEnvironment launch in new[] { s_hydra, s_mpirun, LaunchEnvironment.None })
            Assert.That(MpiShim.Choose(launch, null, DefaultOnly), Is.EqualTo(new MpiShim(MpiShim.DefaultFileName, "built with the mpicc on the PATH")));
    }

    [Test]
    public void NoLauncherMeansTheDefaultShim()
    {
        Assert.That(MpiShim.Choose(LaunchEnvironment.None, null, BothBuilt).FileName, Is.EqualTo(MpiShim.DefaultFileName));
    }

    [Test]
    public void TheVariableOverridesTheLauncher()
    {
        MpiShim chosen = MpiShim.Choose(s_hydra, "openmpi", BothBuilt);
        Assert.That(chosen, Is.EqualTo(new MpiShim("libhpcadam_mpi.openmpi.so", "HPCADAM_MPI=openmpi")));
    }

    [Test]
    public void NamingAnMpiWhoseShimWasNotBuiltSaysHowToBuildIt()
    {
        var error = Assert.Throws<DllNotFoundException>(() => MpiShim.Choose(s_mpirun, "mpich", DefaultOnly))!;
        Assert.That(error.Message, Is.EqualTo("HPCADAM_MPI=mpich, but this build has no libhpcadam_mpi.mpich.so: " +
                                              "install MPICH's mpicc (mpicc.mpich) and rebuild, or unset HPCADAM_MPI"));
    }

    [Test]
    public void AnUnknownNameIsRefused()
    {
        var error = Assert.Throws<DllNotFoundException>(() => MpiShim.Choose(s_mpirun, "intel", BothBuilt))!;
        Assert.That(error.Message, Is.EqualTo("HPCADAM_MPI=intel: give openmpi or mpich, or unset it to let the launcher decide"));
    }
}
