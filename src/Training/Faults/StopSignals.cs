using System.Runtime.InteropServices;

namespace HpcAdam.Training;

/// <summary>
/// SIGTERM (Slurm's pre-emption and time limit, mpirun's forwarded kill) and SIGUSR1 (sbatch
/// <c>--signal=USR1@T</c>) ask the run to stop at the next step boundary with a checkpoint,
/// instead of dying mid-step. The request rides in the step's all-reduce, so every rank stops
/// after the same step even when only one rank received the signal.
/// </summary>
internal sealed class StopSignals : IDisposable
{
    private const int SigUsr1 = 10;   // Linux; .NET's PosixSignal has no name for it

    private readonly PosixSignalRegistration[] _registrations;
    private readonly ManualResetEventSlim _requested = new();
    private volatile string? _received;

    public StopSignals()
    {
        _registrations =
        [
            PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => Request(context, "SIGTERM")),
            PosixSignalRegistration.Create((PosixSignal)SigUsr1, context => Request(context, "SIGUSR1")),
        ];
    }

    /// <summary>The signal received, or null while none has been.</summary>
    public string? Received => _received;

    /// <summary>
    /// Waits until a signal has been handled: .NET runs the handler on another thread, so a
    /// process that signals itself must wait to know which step will carry the request.
    /// </summary>
    public bool WaitForRequest(TimeSpan timeout) => _requested.Wait(timeout);

    private void Request(PosixSignalContext context, string name)
    {
        context.Cancel = true;
        _received ??= name;
        _requested.Set();
    }

    public void Dispose()
    {
        foreach (PosixSignalRegistration registration in _registrations)
            registration.Dispose();
        _requested.Dispose();
    }
}
