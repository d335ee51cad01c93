namespace HpcAdam.Optim;

/// <summary>What v's EMA follows: the line that separates BSI-Adam (Alg. 3) from standard Adam (Alg. 2).</summary>
public enum SecondMomentSource
{
    /// <summary>s̄ = S2/κ, the mean of the squared micro-batch gradients (BSI-Adam).</summary>
    MeanOfSquares,

    /// <summary>ḡ⊙ḡ, the square of the mean gradient (standard Adam, Micro-Adam).</summary>
    SquareOfMean,
}

/// <summary>
/// The scalars of one Adam step, computed once in double precision before the pass over the
/// buffers: per element the pass is then
/// <code>
/// ḡ = S1·(1/κ);  s = S2·(1/κ) or ḡ²
/// m ← (1 − γ1')·m + γ1'·ḡ                 (Alg. 3, line 2)
/// v ← (1 − γ2')·v + γ2'·s                 (Alg. 3, line 3)
/// w ← (1 − η'λ)·w − η'/(1 − c1) · m / (√(v/(1 − c2)) + ε)      (Alg. 3, lines 4–6; or √(v/(1 − c2) + ε) as printed)
/// </code>
/// with c1, c2 the running products of (1 − γ') that replace (1 − γ')^t (docs/ALGORITHMS.md, "The three optimizers").
/// </summary>
public readonly record struct AdamStepCoefficients(
    double InverseKappa,
    double Gamma1,
    double Gamma2,
    double WeightDecayFactor,
    double StepSize,
    double InverseBiasCorrection2,
    double Epsilon,
    bool EpsilonInsideSqrt,
    SecondMomentSource SecondMoment)
{
    /// <summary>
    /// The coefficients for a step with <paramref name="effective"/> hyperparameters (already
    /// scaled to κ), given the bias-correction products <em>after</em> this step's update.
    /// </summary>
    public static AdamStepCoefficients For(AdamHyperparameters effective, int kappa, double c1, double c2, SecondMomentSource secondMoment) =>
        new(InverseKappa: 1.0 / kappa,
            Gamma1: effective.Gamma1,
            Gamma2: effective.Gamma2,
            WeightDecayFactor: effective.WeightDecayFactor,
            StepSize: effective.LearningRate / (1 - c1),
            InverseBiasCorrection2: 1 / (1 - c2),
            Epsilon: effective.Epsilon,
            EpsilonInsideSqrt: effective.EpsilonInsideSqrt,
            SecondMoment: secondMoment);
}
