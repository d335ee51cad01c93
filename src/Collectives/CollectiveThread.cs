using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;

namespace HpcAdam.Collectives;

/// <summary>
/// One thread that makes a communicator's blocking calls, in the order they were handed to it, while
/// the thread that handed them goes on: how a pipelined all-reduce overlaps MPI with the optimizer
/// (<see cref="ICommunicator.StartAllReduceSumTogether"/>). Not MPI_Iallreduce: Open MPI's
/// non-blocking collectives move only while some MPI call is running in the process, and are not
/// tuned as its blocking ones are. One MPI call runs at a time, from this thread while the work
/// is in flight, so MPI_THREAD_SERIALIZED is enough. Created on first use; a background thread, so it
/// never holds a process that is ending.
/// </summary>
internal sealed class CollectiveThread : IDisposable
{
    private readonly BlockingCollection<Work> _queue = [];
    private readonly Thread _thread;

    public CollectiveThread(string name)
    {
        _thread = new Thread(Run) { IsBackground = true, Name = name };
        _thread.Start();
    }

    /// <summary>Queues <paramref name="call"/> behind the calls before it; the returned request completes once it has run.</summary>
    public IPendingAllReduce Start(Action call)
    {
        var work = new Work(call);
        _queue.Add(work);
        return work;
    }

    private void Run()
    {
        foreach (Work work in _queue.GetConsumingEnumerable())
            work.Run();
    }

    /// <summary>Lets the calls queued so far finish, then ends the thread.</summary>
    public void Dispose()
    {
        _queue.CompleteAdding();
        _thread.Join();
        _queue.Dispose();
    }

    private sealed class Work(Action call) : IPendingAllReduce
    {
        private readonly ManualResetEventSlim _done = new();
        private ExceptionDispatchInfo? _failure;

        public void Run()
        {
            try
            {
                call();
            }
            catch (Exception error)
            {
                _failure = ExceptionDispatchInfo.Capture(error);
            }
            _done.Set();
        }

        public bool Test()
        {
            if (_done.IsSet)
                _failure?.Throw();
            return _done.IsSet;
        }

        /// <summary>Until the call has run; its exception, if it threw, is thrown here, on the waiting thread.</summary>
        public void Wait()
        {
            _done.Wait();
            _failure?.Throw();
        }

        public void Dispose()
        {
            _done.Wait();
            _done.Dispose();
        }
    }
}
