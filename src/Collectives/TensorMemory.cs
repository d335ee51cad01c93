using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using TorchSharp;

namespace HpcAdam.Collectives;

/// <summary>The host memory behind a tensor that a collective may sum in place.</summary>
internal readonly unsafe struct TensorMemory(void* data, long count, int elementType, long bytes)
{
    public void* Data { get; } = data;
    public long Count { get; } = count;
    public int ElementType { get; } = elementType;
    public long Bytes { get; } = bytes;

    /// <summary>Checks that MPI can work on <paramref name="tensor"/> in place and returns its memory.</summary>
    public static TensorMemory Of(torch.Tensor tensor, string operation)
    {
        if (tensor.device_type != DeviceType.CPU)
            throw new ArgumentException(
                $"{operation}: the tensor is on {tensor.device}; MPI collectives sum host memory, so pass a CPU tensor");
        if (!tensor.is_contiguous())
            throw new ArgumentException(
                $"{operation}: the tensor is not contiguous; sum the flat buffer it views, or call .contiguous() first");
        int elementType = tensor.dtype switch
        {
            torch.ScalarType.Float32 => NativeMethods.Float32,
            torch.ScalarType.Float64 => NativeMethods.Float64,
            torch.ScalarType.BFloat16 => NativeMethods.BFloat16,
            _ => throw new ArgumentException($"{operation}: the tensor is {tensor.dtype}; only float32, float64 and bfloat16 are summed"),
        };
        // TorchSharp's tensor memory is native and does not move, so its address stays valid
        // for as long as the tensor lives.
        void* data = Unsafe.AsPointer(ref MemoryMarshal.GetReference(tensor.bytes));
        return new TensorMemory(data, tensor.numel(), elementType, tensor.numel() * tensor.element_size());
    }
}
