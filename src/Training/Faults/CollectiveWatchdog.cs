using System.Diagnostics;

namespace HpcAdam.Training;

/// <summary>
/// Ends this rank when a collective has been in flight longer than Check:TimeoutSeconds: a rank
/// that stalled or died without its launcher noticing must not leave the others waiting forever.
/// The message names the step and the collective's sequence number, the same on every rank,
/// so the logs of all ranks line up. Once the job was asked to stop (Slurm's SIGTERM after a
/// rank died, scancel), a collective waits only a few seconds: the launcher is about to kill
/// the job anyway, and waiting would leave no message saying why.
/// </summary>
internal sealed class CollectiveWatchdog : IDisposable
{
    private static readonly TimeSpan s_afterStopRequest = TimeSpan.FromSeconds(5), s_tick = TimeSpan.FromMilliseconds(200);

    private readonly int _rank;
    private readonly TimeSpan _timeout;
    private readonly Func<bool> _stopRequested;
    private readonly Timer _timer;
    private readonly Stopwatch _inFlight = new();
    private long _sequence;
    private string _current = "";

    public CollectiveWatchdog(int rank, int timeoutSeconds, Func<bool> stopRequested)
    {
        (_rank, _timeout, _stopRequested) = (rank, TimeSpan.FromSeconds(timeoutSeconds), stopRequested);
        // Five looks a second: a launcher that ends the job sends SIGTERM and, a second later, SIGKILL
        // (Open MPI's default), and the line naming the stuck collective must come out in between.
        _timer = new Timer(_ => Check(), null, s_tick, s_tick);
    }

    /// <summary>Watches one collective until the returned scope is disposed.</summary>
    public Scope Watch(string collective, long step)
    {
        lock (_inFlight)
        {
            _sequence++;
            _current = $"{collective} #{_sequence} of step {step}";
            _inFlight.Restart();
        }
        return new Scope(this);
    }

    private void Check()
    {
        lock (_inFlight)
        {
            bool timedOut = _timeout > TimeSpan.Zero && _inFlight.Elapsed >= _timeout;
            bool stopping = _stopRequested() && _inFlight.Elapsed >= s_afterStopRequest;
            if (!_inFlight.IsRunning || !(timedOut || stopping))
                return;
            Console.Error.WriteLine(timedOut
                ? $"hpcadam: rank {_rank}: the {_current} has not completed after {_timeout.TotalSeconds:0} s (Check:TimeoutSeconds): another rank has stalled or died; aborting"
                : $"hpcadam: rank {_rank}: asked to stop, but the {_current} has waited {_inFlight.Elapsed.TotalSeconds:0} s: another rank has died; aborting");
            Console.Error.Flush();
            Environment.Exit(ExitCodes.Failed);
        }
    }

    public void Dispose() => _timer.Dispose();

    public readonly struct Scope(CollectiveWatchdog watchdog) : IDisposable
    {
        public void Dispose()
        {
            lock (watchdog._inFlight)
                watchdog._inFlight.Stop();
        }
    }
}
