using HpcAdam.Collectives;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// Where a rank trains and what sums its step (Device:Name, Device:Share, Collectives:Backend). On a
/// node with G visible GPUs (CUDA_VISIBLE_DEVICES respected), the rank with local rank r takes
/// cuda:(r mod G): one GPU per rank, or, with Device:Share, several ranks per GPU. Everything of the
/// step lives there; the host sees a few scalars per step. Unverified on hardware (docs/running.md, "GPUs").
/// </summary>
internal static class ComputeDevice
{
    public static readonly string[] Names = ["auto", "cpu", "cuda"];
    public static readonly string[] Backends = ["auto", "mpi", "nccl"];

    /// <summary>GPUs this process can use: none where the build is TorchSharp-cpu or the machine has no CUDA.</summary>
    public static int VisibleGpus() => cuda.is_available() ? cuda.device_count() : 0;

    /// <summary>What can be said before MPI starts: a name that is not one, CUDA or NCCL asked for where there is none.</summary>
    public static string? Problem(DeviceSettings device, CollectivesSettings collectives, int visibleGpus)
    {
        string name = device.Name.Trim().ToLowerInvariant(), backend = collectives.Backend.Trim().ToLowerInvariant();
        if (!Names.Contains(name))
            return $"Device:Name = '{device.Name}' is not a device: use one of {string.Join(", ", Names)}";
        if (!Backends.Contains(backend))
            return $"Collectives:Backend = '{collectives.Backend}' is not a backend: use one of {string.Join(", ", Backends)}";
        if (name == "cuda" && visibleGpus == 0)
            return "Device:Name = cuda, but no CUDA device is usable here: this build has no CUDA (TorchSharp-cpu; build with " +
                   "-p:TorchBackend=cuda) or the machine has no GPU; use Device:Name=cpu or auto";
        if (backend == "nccl" && (name == "cpu" || visibleGpus == 0))
            return "Collectives:Backend = nccl sums tensors on GPUs, and this run trains on the CPU: use Collectives:Backend=mpi or auto";
        if (backend == "nccl" && NcclLibrary.TryGetVersion(out string reason) is null)
            return $"Collectives:Backend = nccl, but NCCL cannot be used: {reason}; install NCCL or use Collectives:Backend=mpi";
        return null;
    }

    /// <summary>
    /// This rank's device, or why it has none: more ranks on the node than GPUs without Device:Share.
    /// <paramref name="localRank"/> and <paramref name="localSize"/> are this rank's place among the node's ranks.
    /// </summary>
    public static (Device? Device, string? Problem) Select(DeviceSettings settings, int localRank, int localSize, int visibleGpus)
    {
        if (settings.Name.Trim().Equals("cpu", StringComparison.OrdinalIgnoreCase) || visibleGpus == 0)
            return (CPU, null);
        if (localSize > visibleGpus && !settings.Share)
            return (null, $"this node runs {localSize} ranks and has {visibleGpus} visible GPU(s): start at most {visibleGpus} ranks per node, " +
                          "or set Device:Share=true to let ranks share GPUs");
        return (new Device(DeviceType.CUDA, localRank % visibleGpus), null);
    }

    /// <summary>Whether NCCL sums the step: asked for, or auto on a GPU where NCCL loads.</summary>
    public static bool UsesNccl(CollectivesSettings collectives, Device device) =>
        device.type == DeviceType.CUDA && collectives.Backend.Trim().ToLowerInvariant() switch
        {
            "nccl" => true,
            "auto" => NcclLibrary.TryGetVersion(out _) is not null,
            _ => false,
        };
}
