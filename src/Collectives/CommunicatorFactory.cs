namespace HpcAdam.Collectives;

/// <summary>Opens the communicator that matches how this process was started.</summary>
public static class CommunicatorFactory
{
    /// <summary>
    /// A single-process communicator when no launcher started the program, otherwise MPI,
    /// checked against the size the launcher announced (srun without a PMI plugin starts N
    /// processes that each see a world of one, where MPI starts at all).
    /// </summary>
    public static ICommunicator FromEnvironment(ThreadLevel required = ThreadLevel.Serialized)
    {
        LaunchEnvironment launch = LaunchEnvironment.Detect();
        // One task of srun without a PMI plugin has no one to talk to: it runs alone, as without a launcher.
        if (!launch.IsLaunched || (launch.Launcher == LaunchEnvironment.SrunWithoutPmi && launch.Size == 1))
            return new SingleProcessCommunicator();
        // Open MPI joins srun's tasks only through PMIx: without it, its MPI_Init aborts the process with a page on how
        // Open MPI was built, which never names the missing --mpi=pmix.
        if (launch.Launcher == LaunchEnvironment.SrunWithoutPmi && MpiLibrary.Describe().Name.StartsWith("Open MPI", StringComparison.Ordinal))
            throw NotTalking(launch, "Open MPI joins srun's tasks only through PMIx");
        MpiCommunicator communicator = MpiCommunicator.Initialize(required);
        if (launch.Size is int expected && expected != communicator.Size)
        {
            communicator.Dispose();
            throw NotTalking(launch, $"MPI sees a world of {communicator.Size}");
        }
        return communicator;
    }

    private static InvalidOperationException NotTalking(LaunchEnvironment launch, string whatMpiSees) =>
        new($"{launch.Launcher} started {launch.Size} processes but {whatMpiSees}: the launcher and the MPI library are not talking " +
            "(under Slurm use 'srun --mpi=pmix'; 'srun --mpi=list' shows the plugins)");
}
