using TorchSharp;

namespace HpcAdam.Collectives;

/// <summary>An MPI_Iallreduce in flight; holds the tensor so its memory outlives the request.</summary>
internal sealed class PendingMpiAllReduce(MpiCommunicator communicator, IntPtr request, torch.Tensor tensor) : IPendingAllReduce
{
    // The shim frees the native request when it completes; Zero marks that it has.
    private IntPtr _request = request;
    private torch.Tensor? _tensor = tensor;

    public bool Test()
    {
        if (_request == IntPtr.Zero)
            return true;
        communicator.Check(NativeMethods.Test(_request, out int completed), "MPI_Testall");
        if (completed != 0)
            Complete();
        return completed != 0;
    }

    public void Wait()
    {
        if (_request == IntPtr.Zero)
            return;
        communicator.Check(NativeMethods.Wait(_request), "MPI_Waitall");
        Complete();
    }

    public void Dispose() => Wait();

    private void Complete()
    {
        _request = IntPtr.Zero;
        _tensor = null;
    }
}
