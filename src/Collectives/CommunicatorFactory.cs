namespace HpcAdam.Collectives;

/// <summary>Opens the communicator that matches how this process was started.</summary>
public static class CommunicatorFactory
{
    /// <summary>
    /// A single-process communicator when no launcher started the program, otherwise MPI,
    /// checked against the size the launcher announced (srun without a PMI plugin starts N
    /// processes that each see a world of one).
    /// </summary>
    public static ICommunicator FromEnvironment(ThreadLevel required = ThreadLevel.Serialized)
    {
        LaunchEnvironment launch = LaunchEnvironment.Detect();
        if (!launch.IsLaunched)
            return new SingleProcessCommunicator();
        MpiCommunicator communicator = MpiCommunicator.Initialize(required);
        if (launch.Size is int expected && expected != communicator.Size)
        {
            string message = $"{launch.Launcher} started {expected} processes but MPI sees a world of {communicator.Size}: " +
                             "the launcher and the MPI library are not talking (under Slurm use 'srun --mpi=pmix'; 'srun --mpi=list' shows the plugins)";
            communicator.Dispose();
            throw new InvalidOperationException(message);
        }
        return communicator;
    }
}
