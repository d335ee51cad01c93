using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using HpcAdam.Collectives;
using Microsoft.Win32.SafeHandles;

namespace HpcAdam.Training;

/// <summary>A folder another job holds, or cannot lock: nothing was written; the message is one line for the user.</summary>
internal sealed class RunFolderBusyException(string message) : Exception(message);

/// <summary>
/// One job per run (or sweep) folder: rank 0 holds an exclusive flock(2) on FOLDER/.lock for the
/// whole job. The kernel drops it when the process ends, however it ends, so a job killed with
/// SIGKILL never leaves a lock behind; the file itself stays and only tells who held it last. The
/// holder writes its host, process id, Slurm job id and start time into it, for the job it
/// refuses. A lock on a network file system holds across nodes only where the file system
/// supports flock across nodes (docs/training.md, "One job per run folder").
/// </summary>
internal sealed class RunFolderLock : IDisposable
{
    public const string FileName = ".lock";

    private readonly SafeFileHandle _handle;

    private RunFolderLock(SafeFileHandle handle) => _handle = handle;

    /// <summary>
    /// Rank 0 takes the lock of <paramref name="directory"/> (unless <paramref name="locking"/> is
    /// false) and runs <paramref name="check"/> while holding it, so what it checks cannot change
    /// under it; every rank learns the outcome. <paramref name="refusal"/> is set on every rank when
    /// the folder is held, cannot be locked or fails the check: the line for the user on rank 0.
    /// Returns the lock on rank 0, null elsewhere.
    /// </summary>
    public static RunFolderLock? TakeOnRankZero(ICommunicator communicator, string directory, string key, bool locking, Func<string?> check,
        out string? refusal)
    {
        RunFolderLock? taken = null;
        string problem = "";
        if (communicator.Rank == 0)
        {
            try
            {
                taken = locking ? Take(directory, key) : null;
                problem = check() ?? "";
            }
            catch (RunFolderBusyException error)
            {
                problem = error.Message;
            }
            if (problem.Length > 0)
                taken?.Dispose();
        }
        Span<int> refused = [problem.Length > 0 ? 1 : 0];
        communicator.Broadcast(refused, root: 0);
        refusal = refused[0] == 0 ? null : communicator.Rank == 0 ? problem : "rank 0 refused the folder";
        return refused[0] == 0 ? taken : null;
    }

    /// <summary>Creates <paramref name="directory"/> if need be and locks it, or throws <see cref="RunFolderBusyException"/> naming the holder.</summary>
    public static RunFolderLock Take(string directory, string key)
    {
        Directory.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        // hpcadam's runtimeconfig turns off .NET's own implicit file locks, so this flock is the only one.
        SafeFileHandle handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite | FileShare.Delete);
        if (LibcNativeMethods.Flock((int)handle.DangerousGetHandle(), LibcNativeMethods.LockExclusive | LibcNativeMethods.LockNonBlocking) != 0)
        {
            int error = Marshal.GetLastPInvokeError();
            string message = error == LibcNativeMethods.WouldBlock
                ? $"{key} = {directory} is in use by another job, {Holder(handle)}: wait for it to end, or choose another {key}"
                : $"{key} = {directory} cannot be locked ({Marshal.GetPInvokeErrorMessage(error)}): its file system has no flock; " +
                  $"see docs/training.md, or set Run:Lock=false and keep to one job per folder yourself";
            handle.Dispose();
            throw new RunFolderBusyException(message);
        }
        byte[] holder = JsonSerializer.SerializeToUtf8Bytes(new
        {
            host = Environment.MachineName,
            pid = Environment.ProcessId,
            slurm_job_id = Environment.GetEnvironmentVariable("SLURM_JOB_ID"),
            since = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
        });
        RandomAccess.SetLength(handle, 0);
        RandomAccess.Write(handle, holder, fileOffset: 0);
        return new RunFolderLock(handle);
    }

    /// <summary>Who holds the lock, as the holder wrote it; a holder that has not written yet is given a moment.</summary>
    private static string Holder(SafeFileHandle handle)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            byte[] buffer = new byte[4096];
            int length = RandomAccess.Read(handle, buffer, fileOffset: 0);
            try
            {
                JsonElement holder = JsonDocument.Parse(buffer.AsMemory(0, length)).RootElement;
                string slurm = holder.GetProperty("slurm_job_id").GetString() is { } job ? $", Slurm job {job}" : "";
                return $"process {holder.GetProperty("pid").GetInt32()} on {holder.GetProperty("host").GetString()}{slurm}, " +
                       $"since {holder.GetProperty("since").GetString()} UTC";
            }
            catch (Exception error) when (error is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                Thread.Sleep(50);
            }
        }
        return $"which has not said who it is (its {FileName} is empty or unreadable)";
    }

    /// <summary>Closing the file releases the lock.</summary>
    public void Dispose() => _handle.Dispose();
}
