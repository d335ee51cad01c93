using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>The host memory of a contiguous CPU tensor as a span, for the fused passes.</summary>
internal static class HostSpan
{
    public static Span<T> Of<T>(torch.Tensor tensor, string name) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!tensor.is_contiguous())
            throw new ArgumentException($"{name} is not contiguous; the optimizer works on flat buffers", name);
        // A span is indexed by int; past 2 GiB the buffer must be split into several flat tensors.
        if (tensor.numel() * tensor.element_size() > int.MaxValue)
            throw new NotSupportedException($"{name} holds {tensor.numel()} elements, over 2 GiB; split the parameters into flat buffers under 2 GiB each");
        return MemoryMarshal.Cast<byte, T>(tensor.bytes);
    }
}
