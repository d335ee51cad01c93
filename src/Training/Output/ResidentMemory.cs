namespace HpcAdam.Training;

/// <summary>
/// This process's peak resident memory, what a rank needed at its worst, so a user can tell how many
/// ranks fit in a node's memory. getrusage's ru_maxrss (the kernel's VmHWM) rather than reading
/// /proc/self/status: one system call, cheap enough for every step.
/// </summary>
internal static class ResidentMemory
{
    public static unsafe double PeakMiB()
    {
        long* usage = stackalloc long[LibcNativeMethods.ResourceUsageLongs];
        return LibcNativeMethods.GetResourceUsage(LibcNativeMethods.ResourceUsageSelf, usage) == 0
            ? usage[LibcNativeMethods.MaxResidentKiB] / 1024.0
            : 0;
    }
}
