using System.Numerics;
using System.Runtime.CompilerServices;

namespace HpcAdam.Optim;

/// <summary>
/// AdaGrad and AdaGrad-Norm (docs/ALGORITHMS.md, "The three optimizers") on the mean gradient
/// ḡ = S1/κ, with decoupled weight decay, as vectorised passes over flat host buffers:
/// <code>
/// AdaGrad:       a  ← a + ḡ²;       w ← (1 − ηλ)·w − η·ḡ / (√a + ε)     (or √(a + ε))
/// AdaGrad-Norm:  b² ← b² + ‖ḡ‖²;    w ← (1 − ηλ)·w − η·ḡ / (b + ε)      (or √(b² + ε))
/// </code>
/// ε guards the first step of a zero gradient; AdAdaGrad writes both without it.
/// </summary>
public static unsafe class FusedAdaGradKernel
{
    /// <summary>One AdaGrad step; <paramref name="accumulator"/> is a.</summary>
    public static void Step<T>(Span<T> weights, Span<T> accumulator, ReadOnlySpan<T> gradientSum, int kappa,
        AdamHyperparameters effective, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedAdamKernel.RequireLength(nameof(accumulator), accumulator.Length, weights.Length);
        FusedAdamKernel.RequireLength(nameof(gradientSum), gradientSum.Length, weights.Length);
        fixed (T* w = weights, a = accumulator, s1 = gradientSum)
        {
            VectorPass.Run<T, AdaGradUpdate<T>>(new AdaGradUpdate<T>(kappa, effective),
                new Streams(Written: 2, (nint)w, (nint)a, (nint)s1), weights.Length, maxThreads);
        }
    }

    /// <summary>‖S1/κ‖², summed in double chunk by chunk so every rank and thread count gets the same bits.</summary>
    public static double SquaredNormOfMean<T>(ReadOnlySpan<T> gradientSum, int kappa, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var partial = new double[ChunkedParallel.ChunkCount(gradientSum.Length)];
        fixed (T* s1 = gradientSum)
        {
            nint first = (nint)s1;
            ChunkedParallel.For(gradientSum.Length, maxThreads, (chunk, start, count) =>
            {
                double sum = 0;
                foreach (T g in new ReadOnlySpan<T>((T*)first + start, count))
                    sum += double.CreateTruncating(g) * double.CreateTruncating(g);
                partial[chunk] = sum;
            });
        }
        return partial.Sum() / ((double)kappa * kappa);
    }

    /// <summary>w ← (1 − ηλ)·w − scale·S1: AdaGrad-Norm's step once b is known.</summary>
    public static void ScaledDescent<T>(Span<T> weights, ReadOnlySpan<T> gradientSum, AdamHyperparameters effective, double scale, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        FusedAdamKernel.RequireLength(nameof(gradientSum), gradientSum.Length, weights.Length);
        fixed (T* w = weights, s1 = gradientSum)
        {
            VectorPass.Run<T, ScaledDescentUpdate<T>>(new ScaledDescentUpdate<T>(effective, scale),
                new Streams(Written: 1, (nint)w, (nint)s1), weights.Length, maxThreads);
        }
    }

    /// <summary>Streams: w, a (written), S1.</summary>
    private readonly struct AdaGradUpdate<T>(int kappa, AdamHyperparameters effective) : IVectorUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly bool _epsilonInsideSqrt = effective.EpsilonInsideSqrt;
        private readonly Vector<T> _inverseKappa = VectorPass.Broadcast<T>(1.0 / kappa);
        private readonly Vector<T> _decay = VectorPass.Broadcast<T>(effective.WeightDecayFactor);
        private readonly Vector<T> _learningRate = VectorPass.Broadcast<T>(effective.LearningRate);
        private readonly Vector<T> _epsilon = VectorPass.Broadcast<T>(effective.Epsilon);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Update(T* w, T* a, T* s1, T* unused3, T* unused4)
        {
            Vector<T> meanGradient = Vector.Load(s1) * _inverseKappa;
            Vector<T> newA = Vector.Load(a) + meanGradient * meanGradient;
            Vector<T> denominator = _epsilonInsideSqrt ? Vector.SquareRoot(newA + _epsilon) : Vector.SquareRoot(newA) + _epsilon;
            (_decay * Vector.Load(w) - _learningRate * meanGradient / denominator).Store(w);
            newA.Store(a);
        }
    }

    /// <summary>Streams: w (written), S1; w ← (1 − ηλ)·w − scale·S1.</summary>
    private readonly struct ScaledDescentUpdate<T>(AdamHyperparameters effective, double scale) : IVectorUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly Vector<T> _decay = VectorPass.Broadcast<T>(effective.WeightDecayFactor);
        private readonly Vector<T> _scale = VectorPass.Broadcast<T>(scale);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Update(T* w, T* s1, T* unused2, T* unused3, T* unused4) =>
            (_decay * Vector.Load(w) - _scale * Vector.Load(s1)).Store(w);
    }
}
