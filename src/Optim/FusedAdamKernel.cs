using System.Numerics;
using System.Runtime.CompilerServices;

namespace HpcAdam.Optim;

/// <summary>
/// The Adam step (BSI-Adam, standard Adam, Micro-Adam) as one vectorised pass over flat host
/// buffers: S1, S2, m, v and w are each read once and m, v, w written once, chunk by chunk on
/// several threads. Generic over float (training) and double (the theorem tests).
/// </summary>
public static unsafe class FusedAdamKernel
{
    /// <summary>
    /// Applies <paramref name="c"/> to every element. <paramref name="squaredGradientSum"/> (S2) is
    /// read only for <see cref="SecondMomentSource.MeanOfSquares"/> and may be empty otherwise.
    /// </summary>
    public static void Step<T>(Span<T> weights, Span<T> m, Span<T> v, ReadOnlySpan<T> gradientSum, ReadOnlySpan<T> squaredGradientSum,
        in AdamStepCoefficients c, int maxThreads)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        RequireLength(nameof(m), m.Length, weights.Length);
        RequireLength(nameof(v), v.Length, weights.Length);
        RequireLength(nameof(gradientSum), gradientSum.Length, weights.Length);
        bool meanOfSquares = c.SecondMoment == SecondMomentSource.MeanOfSquares;
        if (meanOfSquares)
            RequireLength(nameof(squaredGradientSum), squaredGradientSum.Length, weights.Length);

        fixed (T* w = weights, pm = m, pv = v, s1 = gradientSum, s2 = squaredGradientSum)
        {
            var streams = new Streams(Written: 3, (nint)w, (nint)pm, (nint)pv, (nint)s1, meanOfSquares ? (nint)s2 : 0);
            VectorPass.Run<T, AdamUpdate<T>>(new AdamUpdate<T>(c), streams, weights.Length, maxThreads);
        }
    }

    internal static void RequireLength(string name, int actual, int expected)
    {
        if (actual != expected)
            throw new ArgumentException($"{name} has {actual} elements but the weights have {expected}; every buffer of a step must be the same flat layout", name);
    }

    /// <summary>The coefficients broadcast into vectors once per step.</summary>
    private readonly struct AdamUpdate<T>(in AdamStepCoefficients c) : IVectorUpdate<T>
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        private readonly bool _epsilonInsideSqrt = c.EpsilonInsideSqrt;
        private readonly Vector<T> _inverseKappa = VectorPass.Broadcast<T>(c.InverseKappa);
        private readonly Vector<T> _gamma1 = VectorPass.Broadcast<T>(c.Gamma1), _keep1 = VectorPass.Broadcast<T>(1 - c.Gamma1);
        private readonly Vector<T> _gamma2 = VectorPass.Broadcast<T>(c.Gamma2), _keep2 = VectorPass.Broadcast<T>(1 - c.Gamma2);
        private readonly Vector<T> _decay = VectorPass.Broadcast<T>(c.WeightDecayFactor);
        private readonly Vector<T> _stepSize = VectorPass.Broadcast<T>(c.StepSize);
        private readonly Vector<T> _inverseBiasCorrection2 = VectorPass.Broadcast<T>(c.InverseBiasCorrection2);
        private readonly Vector<T> _epsilon = VectorPass.Broadcast<T>(c.Epsilon);

        /// <summary>Streams: w, m, v (written), S1, S2 (S2 null for the square of the mean).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Update(T* w, T* m, T* v, T* s1, T* s2)
        {
            Vector<T> meanGradient = Vector.Load(s1) * _inverseKappa;
            Vector<T> second = s2 != null ? Vector.Load(s2) * _inverseKappa : meanGradient * meanGradient;
            Vector<T> newM = _keep1 * Vector.Load(m) + _gamma1 * meanGradient;   // Alg. 3 line 2
            Vector<T> newV = _keep2 * Vector.Load(v) + _gamma2 * second;         // Alg. 3 line 3 (Alg. 2: ḡ²)
            Vector<T> correctedV = newV * _inverseBiasCorrection2;
            Vector<T> denominator = _epsilonInsideSqrt
                ? Vector.SquareRoot(correctedV + _epsilon)                      // Alg. 1 as written
                : Vector.SquareRoot(correctedV) + _epsilon;                     // PyTorch's convention
            Vector<T> newW = _decay * Vector.Load(w) - _stepSize * newM / denominator;
            newM.Store(m);
            newV.Store(v);
            newW.Store(w);
        }
    }
}
