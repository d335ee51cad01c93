namespace HpcAdam.Collectives;

/// <summary>The two MPI families whose builds of the shim can sit side by side.</summary>
public enum MpiFamily
{
    OpenMpi,
    Mpich,
}

/// <summary>
/// Which build of the MPI shim this process loads, and why. MPI defines no ABI, so a shim compiled
/// against Open MPI's mpi.h cannot run under MPICH's launcher, nor the other way round. The build
/// makes libhpcadam_mpi.so with the mpicc on the PATH (a cluster's loaded MPI module) and, where
/// Open MPI and MPICH are installed side by side, one more for each (libhpcadam_mpi.openmpi.so,
/// libhpcadam_mpi.mpich.so). HPCADAM_MPI=openmpi|mpich names one; otherwise the launcher's family
/// picks its build when there is one, and the default build is loaded when there is not.
/// </summary>
public sealed record MpiShim(string FileName, string Reason)
{
    public const string Variable = "HPCADAM_MPI", DefaultFileName = "libhpcadam_mpi.so";

    private static readonly Lazy<MpiShim> s_chosen = new(() => Choose(
        LaunchEnvironment.Detect(), Environment.GetEnvironmentVariable(Variable),
        name => File.Exists(Path.Combine(AppContext.BaseDirectory, name))));

    /// <summary>The shim for this process; a <see cref="DllNotFoundException"/> says why there is none.</summary>
    public static MpiShim Chosen => s_chosen.Value;

    /// <param name="requested">HPCADAM_MPI's value, if set.</param>
    /// <param name="built">Whether a shim of that file name was built beside the program.</param>
    public static MpiShim Choose(LaunchEnvironment launch, string? requested, Func<string, bool> built)
    {
        if (requested is { Length: > 0 })
        {
            MpiFamily family = Parse(requested);
            return built(FileNameOf(family))
                ? new(FileNameOf(family), $"{Variable}={requested}")
                : throw new DllNotFoundException($"{Variable}={requested}, but this build has no {FileNameOf(family)}: " +
                                                 $"install {Name(family)}'s mpicc (mpicc.{Suffix(family)}) and rebuild, or unset {Variable}");
        }
        if (launch.Family is MpiFamily launcher && built(FileNameOf(launcher)))
            return new(FileNameOf(launcher), $"{launch.Launcher} is {Name(launcher)}'s");
        return new(DefaultFileName, "built with the mpicc on the PATH");
    }

    private static MpiFamily Parse(string requested) => requested switch
    {
        "openmpi" => MpiFamily.OpenMpi,
        "mpich" => MpiFamily.Mpich,
        _ => throw new DllNotFoundException($"{Variable}={requested}: give openmpi or mpich, or unset it to let the launcher decide"),
    };

    private static string Suffix(MpiFamily family) => family == MpiFamily.OpenMpi ? "openmpi" : "mpich";

    private static string Name(MpiFamily family) => family == MpiFamily.OpenMpi ? "Open MPI" : "MPICH";

    private static string FileNameOf(MpiFamily family) => $"libhpcadam_mpi.{Suffix(family)}.so";
}
