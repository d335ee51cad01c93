using System.Security.Cryptography;
using HpcAdam.Collectives;
using TorchSharp;
using static TorchSharp.torch;

namespace HpcAdam.Training;

/// <summary>
/// The host's access to tensors that may live on a GPU, for the few things done on bytes (the
/// broadcast of rank 0's initial state, the agreement checksums): on the CPU the tensor's own
/// memory, with no copy; on a GPU a host copy, written back after a broadcast.
/// </summary>
internal static class HostView
{
    public static void Broadcast(ICommunicator communicator, Tensor tensor, int root)
    {
        if (tensor.device_type == DeviceType.CPU)
        {
            communicator.Broadcast(tensor.bytes, root);
            return;
        }
        using Tensor host = tensor.cpu();
        communicator.Broadcast(host.bytes, root);
        tensor.copy_(host);
    }

    public static void AppendTo(IncrementalHash hash, Tensor tensor)
    {
        using Tensor contiguous = tensor.device_type == DeviceType.CPU ? tensor.contiguous() : tensor.cpu().contiguous();
        hash.AppendData(contiguous.bytes);
    }
}
