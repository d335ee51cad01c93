using System.Numerics;
using System.Runtime.CompilerServices;
using TorchSharp;

namespace HpcAdam.Optim;

/// <summary>
/// Adds one micro-batch gradient g_k to the step's sums in one pass: S1 += g_k, S2 += g_k⊙g_k
/// (the sums inside Alg. 3 lines 2 and 3; docs/ALGORITHMS.md, "The three optimizers"). S2 is what makes BSI-Adam's second moment, and the free
/// variance statistics, possible without per-sample gradients.
/// </summary>
public static unsafe class MicroBatchAccumulation
{
    public static void Add(torch.Tensor gradient, torch.Tensor gradientSum, torch.Tensor squaredGradientSum,
        int maxThreads = 0)
    {
        if (gradient.numel() != gradientSum.numel() || gradient.numel() != squaredGradientSum.numel())
            throw new ArgumentException(
                $"the gradient has {gradient.numel()} elements, S1 {gradientSum.numel()} and S2 {squaredGradientSum.numel()}; they must be equal");
        if (gradient.device_type != DeviceType.CPU || gradient.dtype != torch.ScalarType.Float32)
        {
            gradientSum.add_(gradient);
            squaredGradientSum.addcmul_(gradient, gradient, value: 1);
            return;
        }
        Span<float> g = HostSpan.Of<float>(gradient, "the gradient"),
            s1 = HostSpan.Of<float>(gradientSum, "S1"),
            s2 = HostSpan.Of<float>(squaredGradientSum, "S2");
        fixed (float* gp = g, s1p = s1, s2p = s2)
        {
            VectorPass.Run<float, AccumulateUpdate>(default, new Streams(Written: 2, (nint)s1p, (nint)s2p, (nint)gp),
                g.Length, maxThreads > 0 ? maxThreads : Math.Max(1, torch.get_num_threads()));
        }
    }

    /// <summary>Streams: S1, S2 (written), g.</summary>
    private readonly struct AccumulateUpdate : IVectorUpdate<float>
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Update(float* s1, float* s2, float* g, float* unused3, float* unused4)
        {
            Vector<float> gradient = Vector.Load(g);
            (Vector.Load(s1) + gradient).Store(s1);
            (Vector.Load(s2) + gradient * gradient).Store(s2);
        }
    }
}
