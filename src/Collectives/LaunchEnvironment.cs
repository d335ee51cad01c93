using System.Collections;
using System.Globalization;

namespace HpcAdam.Collectives;

/// <summary>
/// Which launcher, if any, started this process, read from the variables launchers set.
/// No launcher means a single-process run that never touches MPI, so HpcAdam runs on a
/// machine without MPI; any launcher means MPI is initialised and must agree on the size.
/// <see cref="Family"/> is the MPI the launcher belongs to, where it says (see <see cref="MpiShim"/>).
/// </summary>
public sealed record LaunchEnvironment(string Launcher, int? Rank, int? Size, MpiFamily? Family = null)
{
    public static readonly LaunchEnvironment None = new("none", null, null);

    /// <summary>srun's tasks with no PMI plugin (srun --mpi=none, or a site's MpiDefault=none): only an MPI that reads Slurm's own variables can join them.</summary>
    public const string SrunWithoutPmi = "Slurm srun (no PMI)";

    public bool IsLaunched => this != None;

    public static LaunchEnvironment Detect() => FromVariables(Environment.GetEnvironmentVariables());

    public static LaunchEnvironment FromVariables(IDictionary variables)
    {
        string? Get(string name) => variables[name] as string;
        int? Number(string name) =>
            int.TryParse(Get(name), NumberStyles.None, CultureInfo.InvariantCulture, out int value) ? value : null;

        // srun's real job steps have small ids; the batch script (0xFFFFFFFE) and the extern
        // step (0xFFFFFFFF) are not launches of ranks.
        bool underSrun = uint.TryParse(Get("SLURM_STEP_ID"), NumberStyles.None, CultureInfo.InvariantCulture, out uint step)
                         && step < 0xFFFFFFF0;
        int? srunTasks = Number("SLURM_STEP_NUM_TASKS") ?? Number("SLURM_NTASKS");

        // PMIx is Open MPI's wire-up (MPICH can be built for it, but Debian's and most sites' speak
        // PMI-1/2); PMI-1/2 is MPICH's and its derivatives' (Open MPI 4 and later dropped it).
        if (Get("OMPI_COMM_WORLD_SIZE") is not null)
            return new("Open MPI mpirun", Number("OMPI_COMM_WORLD_RANK"), Number("OMPI_COMM_WORLD_SIZE"), MpiFamily.OpenMpi);
        if (Get("PMIX_RANK") is not null)
            return underSrun
                ? new("Slurm srun (PMIx)", Number("SLURM_PROCID"), srunTasks, MpiFamily.OpenMpi)
                : new("PMIx launcher", Number("PMIX_RANK"), Number("PMIX_SIZE"), MpiFamily.OpenMpi);
        if (Get("PMI_RANK") is not null)
            return underSrun
                ? new("Slurm srun (PMI-2)", Number("SLURM_PROCID"), srunTasks, MpiFamily.Mpich)
                : new("PMI launcher (MPICH Hydra)", Number("PMI_RANK"), Number("PMI_SIZE"), MpiFamily.Mpich);
        if (underSrun)
            return new(SrunWithoutPmi, Number("SLURM_PROCID"), srunTasks);
        return None;
    }
}
