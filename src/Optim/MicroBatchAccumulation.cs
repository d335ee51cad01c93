using System.Numerics;
using System.Runtime.CompilerServices;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// Adds one micro-batch gradient g_k to the step's sums in one pass: S1 += g_k, S2 += g_k⊙g_k
/// (the sums inside Alg. 3 lines 2 and 3; docs/ALGORITHMS.md, "The three optimizers"). S2 is what makes BSI-Adam's second moment, and the free
/// variance statistics, possible without per-sample gradients. On host memory a vectorised pass,
/// on a GPU one fused kernel, elsewhere two tensor operations (<see cref="ElementwisePath"/>).
/// A micro-batch of weight w ≠ 1 (its loss units; docs/ALGORITHMS.md,
/// "Micro-batches of unequal weight") adds w·g_k and w·g_k⊙g_k, in two tensor operations wherever the buffers are.
/// </summary>
public static unsafe class MicroBatchAccumulation
{
    public static void Add(torch.Tensor gradient, torch.Tensor gradientSum, torch.Tensor squaredGradientSum,
        int maxThreads = 0, double weight = 1)
    {
        if (gradient.numel() != gradientSum.numel() || gradient.numel() != squaredGradientSum.numel())
            throw new ArgumentException(
                $"the gradient has {gradient.numel()} elements, S1 {gradientSum.numel()} and S2 {squaredGradientSum.numel()}; they must be equal");
        foreach ((torch.Tensor sum, string name) in new[] { (gradientSum, "S1"), (squaredGradientSum, "S2") })
            if (sum.dtype != gradient.dtype || sum.device_type != gradient.device_type || sum.device_index != gradient.device_index)
                throw new ArgumentException($"{name} is {sum.dtype} on {sum.device}, the gradient {gradient.dtype} on {gradient.device}; they must be alike");
        if (weight != 1)
        {
            using (torch.no_grad())
            {
                gradientSum.add_(gradient, alpha: weight);
                squaredGradientSum.addcmul_(gradient, gradient, value: weight);
            }
            return;
        }
        ElementwisePath path = ElementwisePath.For(gradient);
        if (path.Device is { } device)
            device.Accumulate(gradient, gradientSum, squaredGradientSum);
        else if (gradient.dtype == torch.ScalarType.Float32)
            AddOnHost<float>(gradient, gradientSum, squaredGradientSum, maxThreads);
        else
            AddOnHost<double>(gradient, gradientSum, squaredGradientSum, maxThreads);
    }

    private static void AddOnHost<T>(torch.Tensor gradient, torch.Tensor gradientSum, torch.Tensor squaredGradientSum, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> g = HostSpan.Of<T>(gradient, "the gradient"),
            s1 = HostSpan.Of<T>(gradientSum, "S1"),
            s2 = HostSpan.Of<T>(squaredGradientSum, "S2");
        fixed (T* gp = g, s1p = s1, s2p = s2)
        {
            VectorPass.Run<T, AccumulateUpdate<T>>(default, new Streams(Written: 2, (nint)s1p, (nint)s2p, (nint)gp),
                g.Length, maxThreads > 0 ? maxThreads : Math.Max(1, torch.get_num_threads()));
        }
    }

    /// <summary>Streams: S1, S2 (written), g.</summary>
    private readonly struct AccumulateUpdate<T> : IVectorUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Update(T* s1, T* s2, T* g, T* unused3, T* unused4)
        {
            Vector<T> gradient = Vector.Load(g);
            (Vector.Load(s1) + gradient).Store(s1);
            (Vector.Load(s2) + gradient * gradient).Store(s2);
        }
    }
}
